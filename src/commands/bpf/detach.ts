import {Flags} from '@oclif/core'
import {BaseCommand} from '../../ui/base-command.js'
import {detachTc, detachXdp, type XdpMode} from '../../bpf/programs.js'
import {hookFlag, targetFlags} from '../../ui/bpf-flags.js'
import {hostDevice} from '../../pods/service.js'

export default class BpfDetach extends BaseCommand {
  static summary = "Detach the XDP or TC program from a pod's host veth or an interface."
  static examples = [
    '<%= config.bin %> bpf detach --pod httpbin',
    '<%= config.bin %> bpf detach --dev veth1234 --hook tc-egress',
  ]
  static enableJsonFlag = true
  static flags = {
    ...targetFlags,
    hook: hookFlag,
    mode: Flags.string({
      options: ['generic', 'native'],
      default: 'generic',
      description: 'With --hook xdp: the XDP mode it was attached in.',
    }),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(BpfDetach)
    const dev = await hostDevice(flags)
    const detached =
      flags.hook === 'xdp'
        ? await detachXdp(dev, {mode: flags.mode as XdpMode})
        : await detachTc(dev, flags.hook === 'tc-ingress' ? 'ingress' : 'egress')
    this.log(detached ? `detached the ${flags.hook} program from ${dev}` : `no ${flags.hook} program on ${dev}`)
    return {dev, hook: flags.hook, detached}
  }
}
