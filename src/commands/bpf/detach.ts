import {Flags} from '#oclif'
import {BaseCommand} from '../../ui/base-command.js'
import {detachTc, detachXdp, type XdpMode} from '../../bpf/programs.js'
import {hookFlag, targetFlags} from '../../ui/bpf-flags.js'
import {hostDevice} from '../../pods/service.js'
import {detachTcx} from '../../bpf/tcx.js'
import {plainCommands} from '../../ui/same-as.js'

export default class BpfDetach extends BaseCommand {
  static summary = "Detach the XDP or TC program from a pod's host veth or an interface."
  static description =
    'With --hook tc-ingress or tc-egress, both what is on the clsact qdisc and the tcx links that `bpf attach --tcx` pinned on that hook go.'
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
    if (flags.hook === 'xdp') {
      const detached = await detachXdp(dev, {mode: flags.mode as XdpMode})
      this.log(detached ? `detached the ${flags.hook} program from ${dev}` : `no ${flags.hook} program on ${dev}`)
      return {dev, hook: flags.hook, detached}
    }
    const direction = flags.hook === 'tc-ingress' ? 'ingress' : 'egress'
    const links = detachTcx(dev, direction)
    const clsact = await detachTc(dev, direction)
    if (links.length) {
      this.log(`detached ${links.length} tcx ${direction} link(s) from ${dev}: ${links.join(', ')}`)
      this.sameAs(plainCommands.detachTcx(links))
    }
    if (clsact) this.log(`detached the clsact ${direction} program from ${dev}`)
    if (!links.length && !clsact) this.log(`no ${flags.hook} program on ${dev} (clsact or a tcx link ebpfcni pinned)`)
    return {dev, hook: flags.hook, detached: clsact || links.length > 0, tcxLinks: links}
  }
}
