import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {join} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {attachXdp, type XdpMode} from '../../bpf/programs.js'
import {PodService} from '../../pods/service.js'
import {UserError} from '../../host/errors.js'
import {BPF_PIN_ROOT} from '../../host/paths.js'

export default class BpfAttach extends BaseCommand {
  static summary = "Attach a pinned XDP program to a pod's host veth (found by peer index) or to an interface."
  static examples = ['<%= config.bin %> bpf attach --pod httpbin', '<%= config.bin %> bpf attach /sys/fs/bpf/ebpfcni/xdp_prog --dev veth1234']
  static args = {pin: Args.string({description: 'Pinned program.', default: join(BPF_PIN_ROOT, 'xdp_prog')})}
  static flags = {
    pod: Flags.string({description: "Attach to this pod's host veth.", exactlyOne: ['pod', 'dev']}),
    dev: Flags.string({description: 'Attach to this host interface.'}),
    mode: Flags.string({description: 'XDP mode: generic works on veths; native needs driver support.', options: ['generic', 'native'], default: 'generic'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BpfAttach)
    let dev = flags.dev
    if (flags.pod) {
      const pods = new PodService()
      dev = await pods.hostVeth(pods.get(flags.pod))
      if (!dev) throw new UserError(`cannot find the host end of pod ${flags.pod}'s interface`)
    }
    const id = await attachXdp(args.pin, dev!, {mode: flags.mode as XdpMode})
    this.log(`${chalk.green('✔')} XDP program ${id} (${args.pin}) attached to ${dev} in ${flags.mode} mode`)
  }
}
