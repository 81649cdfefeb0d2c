import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {attachTc, attachXdp, resolvePin, type XdpMode} from '../../bpf/programs.js'
import {hookFlag, pinDirFlag, targetFlags} from '../../ui/bpf-flags.js'
import {hostDevice} from '../../pods/service.js'

export default class BpfAttach extends BaseCommand {
  static summary = "Attach a pinned program to a pod's host veth or an interface (XDP or TC)."
  static description =
    "PIN is a pinned program: a path, or a name under --pin-dir (default xdp_prog). Generic XDP works on any device, a veth included; --mode native uses the driver hook: on a veth, attaching it turns on the receiving end's NAPI path, so it sees every frame the peer sends (only frames a program sends into a veth with XDP_TX or XDP_REDIRECT need a program, or GRO, on the veth that receives them). With --hook tc-ingress or tc-egress the program goes on the interface's clsact qdisc instead."
  static examples = [
    '<%= config.bin %> bpf attach --pod httpbin',
    '<%= config.bin %> bpf attach xdp_prog --dev veth1234',
    '<%= config.bin %> bpf attach to_pod --pod httpbin --hook tc-egress',
  ]
  static enableJsonFlag = true
  static args = {
    pin: Args.string({
      ignoreStdin: true,
      description: 'Pinned program: a path, or a name under --pin-dir.',
      default: 'xdp_prog',
    }),
  }
  static flags = {
    ...targetFlags,
    'pin-dir': pinDirFlag,
    mode: Flags.string({
      description: 'XDP mode: generic works on veths; native needs driver support.',
      options: ['generic', 'native'],
      default: 'generic',
    }),
    hook: hookFlag,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(BpfAttach)
    const pin = resolvePin(args.pin, flags['pin-dir'])
    const dev = await hostDevice(flags)
    if (flags.hook !== 'xdp') {
      const direction = flags.hook === 'tc-ingress' ? 'ingress' : 'egress'
      const id = await attachTc(pin, dev, direction)
      this.log(`${chalk.green('✔')} TC program ${id} (${pin}) attached to ${dev} clsact ${direction}`)
      this.sameAs(plainCommands.attachTc(dev, pin, direction))
      return {dev, hook: flags.hook, id, pin}
    }
    const id = await attachXdp(pin, dev, {mode: flags.mode as XdpMode})
    this.log(`${chalk.green('✔')} XDP program ${id} (${pin}) attached to ${dev} in ${flags.mode} mode`)
    this.sameAs(plainCommands.attachXdp(dev, pin, flags.mode as XdpMode))
    return {dev, hook: 'xdp', mode: flags.mode, id, pin}
  }
}
