import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {attachTc, attachXdp, resolvePin, type XdpMode} from '../../bpf/programs.js'
import {hookFlag, pinDirFlag, targetFlags} from '../../ui/bpf-flags.js'
import {hostDevice} from '../../pods/service.js'
import {attachTcx} from '../../bpf/tcx.js'
import {UserError} from '../../host/errors.js'

export default class BpfAttach extends BaseCommand {
  static summary = "Attach a pinned program to a pod's host veth or an interface: XDP, TC or tcx."
  static description =
    "PIN is a pinned program: a path, or a name under --pin-dir (default xdp_prog). Generic XDP works on any device, a veth included; --mode native uses the driver hook: on a veth, attaching it turns on the receiving end's NAPI path, so it sees every frame the peer sends (only frames a program sends into a veth with XDP_TX or XDP_REDIRECT need a program, or GRO, on the veth that receives them). With --hook tc-ingress or tc-egress the program goes on the interface's clsact qdisc instead. With --tcx a TC program is attached through a tcx link (tcx, \"TC express\": the kernel's TC hook without a qdisc, kernel 6.6 or newer; Debian 12's 6.1 has none, Debian 13's 6.12 has it), as eBPF CNIs attach today: no qdisc, and the link is pinned next to the program (link_tcx_<direction>_<dev>_<program>) so it outlives this command and belongs to whoever holds the pin: a foreign `tc qdisc del … clsact` does not remove it. Several programs share a tcx hook and run in order (a new link goes last, with --first before the others); attaching the same program again swaps the link's program in place. On an older kernel --tcx stops with the kernel it needs."
  static examples = [
    '<%= config.bin %> bpf attach --pod httpbin',
    '<%= config.bin %> bpf attach xdp_prog --dev veth1234',
    '<%= config.bin %> bpf attach to_pod --pod httpbin --hook tc-egress',
    '<%= config.bin %> bpf attach to_pod --pod httpbin --hook tc-egress --tcx',
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
    tcx: Flags.boolean({
      description: 'With --hook tc-ingress or tc-egress: attach through a pinned tcx link, not clsact (kernel 6.6+).',
      default: false,
    }),
    first: Flags.boolean({
      description: "With --tcx: run before the programs already on that hook (mprog's BPF_F_BEFORE).",
      default: false,
      dependsOn: ['tcx'],
    }),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(BpfAttach)
    const pin = resolvePin(args.pin, flags['pin-dir'])
    const dev = await hostDevice(flags)
    if (flags.tcx && flags.hook === 'xdp')
      throw new UserError('--tcx attaches a TC program: add --hook tc-ingress or --hook tc-egress')
    if (flags.tcx) {
      const direction = flags.hook === 'tc-ingress' ? 'ingress' : 'egress'
      const a = await attachTcx(pin, dev, direction, {first: flags.first})
      this.log(
        `${chalk.green('✔')} TC program ${a.progId} (${pin}) ${a.updated ? 'swapped into' : 'attached to'} ${dev} tcx ${direction} through link ${a.linkId}, pinned at ${a.linkPin}`,
      )
      this.sameAs(plainCommands.attachTcx(dev, pin, direction, flags.first))
      return {dev, hook: flags.hook, mode: 'tcx', id: a.progId, link: a.linkId, linkPin: a.linkPin, pin}
    }
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
