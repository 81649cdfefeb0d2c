import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag, ruleArgs, ruleWritten, RULE_DESCRIPTION} from '../../ui/policy-flags.js'

export default class PolicyDeny extends BaseCommand {
  static summary = 'Drop what FROM sends to TO (one direction), in the datapath.'
  static description = RULE_DESCRIPTION
  static examples = ['<%= config.bin %> policy deny sleep httpbin', '<%= config.bin %> policy deny 10.10.0.3 10.10.0.2']
  static enableJsonFlag = true
  static args = ruleArgs
  static flags = pinDirFlag

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicyDeny)
    const r = await new PolicyService({pinDir: flags['pin-dir']}).setRule('deny', args.from, args.to)
    this.log(ruleWritten('deny', args.from, args.to, r))
    return r
  }
}
