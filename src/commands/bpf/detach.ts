import {Flags} from '@oclif/core'
import {BaseCommand} from '../../ui/base-command.js'
import {detachXdp, type XdpMode} from '../../bpf/programs.js'
import {PodService} from '../../pods/service.js'
import {UserError} from '../../host/errors.js'

export default class BpfDetach extends BaseCommand {
  static summary = "Detach the XDP program from a pod's host veth or an interface."
  static examples = ['<%= config.bin %> bpf detach --pod httpbin', '<%= config.bin %> bpf detach --dev veth1234']
  static flags = {
    pod: Flags.string({description: "This pod's host veth.", exactlyOne: ['pod', 'dev']}),
    dev: Flags.string({description: 'This host interface.'}),
    mode: Flags.string({options: ['generic', 'native'], default: 'generic', description: 'XDP mode it was attached in.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(BpfDetach)
    const pods = new PodService()
    const dev = flags.pod ? await pods.hostVeth(pods.get(flags.pod)) : flags.dev
    if (!dev) throw new UserError(`cannot find the host end of pod ${flags.pod}'s interface`)
    this.log((await detachXdp(dev, {mode: flags.mode as XdpMode})) ? `detached XDP from ${dev}` : `no XDP program on ${dev}`)
  }
}
