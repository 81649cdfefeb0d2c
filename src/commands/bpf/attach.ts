import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {join} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {attachTc, attachXdp, type XdpMode} from '../../bpf/programs.js'
import {PodService} from '../../pods/service.js'
import {UserError} from '../../host/errors.js'
import {BPF_PIN_ROOT} from '../../host/paths.js'

export default class BpfAttach extends BaseCommand {
  static summary = "Attach a pinned XDP (or TC) program to a pod's host veth (found by peer index) or to an interface."
  static examples = ['<%= config.bin %> bpf attach --pod httpbin', '<%= config.bin %> bpf attach /sys/fs/bpf/ebpfcni/xdp_prog --dev veth1234']
  static args = {pin: Args.string({description: 'Pinned program.', default: join(BPF_PIN_ROOT, 'xdp_prog')})}
  static flags = {
    pod: Flags.string({description: "Attach to this pod's host veth.", exactlyOne: ['pod', 'dev']}),
    dev: Flags.string({description: 'Attach to this host interface.'}),
    mode: Flags.string({description: 'XDP mode: generic works on veths; native needs driver support.', options: ['generic', 'native'], default: 'generic'}),
    hook: Flags.string({description: 'xdp, or a TC clsact direction: on a host veth, tc-ingress sees what the pod sends, tc-egress what it receives.', options: ['xdp', 'tc-ingress', 'tc-egress'], default: 'xdp'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BpfAttach)
    let dev = flags.dev
    if (flags.pod) {
      const pods = new PodService()
      dev = await pods.hostVeth(pods.get(flags.pod))
      if (!dev) throw new UserError(`cannot find the host end of pod ${flags.pod}'s interface`)
    }
    if (flags.hook !== 'xdp') {
      const direction = flags.hook === 'tc-ingress' ? 'ingress' : 'egress'
      const id = await attachTc(args.pin, dev!, direction)
      this.log(`${chalk.green('✔')} TC program ${id} (${args.pin}) attached to ${dev} clsact ${direction}`)
      return
    }
    const id = await attachXdp(args.pin, dev!, {mode: flags.mode as XdpMode})
    this.log(`${chalk.green('✔')} XDP program ${id} (${args.pin}) attached to ${dev} in ${flags.mode} mode`)
  }
}
