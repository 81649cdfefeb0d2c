import {Args} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag} from '../../ui/policy-flags.js'

export default class PolicyDeny extends BaseCommand {
  static summary = 'Drop what FROM sends to TO (one direction), in the datapath.'
  static description =
    "FROM and TO are pod names (ebpfcni pod list) or IPv4 addresses. The rule is stored and written to the pinned maps at once; a rule for the same pair replaces it. In the identity design (lab 4 step 3) rules apply to the pods' label sets."
  static examples = ['<%= config.bin %> policy deny sleep httpbin', '<%= config.bin %> policy deny 10.10.0.3 10.10.0.2']
  static enableJsonFlag = true
  static args = {
    from: Args.string({description: 'Sending pod (name or IPv4).', required: true}),
    to: Args.string({description: 'Receiving pod (name or IPv4).', required: true}),
  }
  static flags = pinDirFlag

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicyDeny)
    const r = await new PolicyService({pinDir: flags['pin-dir']}).setRule('deny', args.from, args.to)
    this.log(
      `${chalk.green('✔')} deny ${args.from} → ${args.to} (${r.mode} design; ${r.written} entr${r.written === 1 ? 'y' : 'ies'} written, ${r.removed} removed)`,
    )
    return r
  }
}
