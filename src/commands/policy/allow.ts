import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag, ruleArgs, ruleWritten, RULE_DESCRIPTION} from '../../ui/policy-flags.js'

export default class PolicyAllow extends BaseCommand {
  static summary = 'Allow FROM → TO: wins over a deny for the pair and over isolation.'
  static description = RULE_DESCRIPTION
  static examples = [
    '<%= config.bin %> policy allow sleep httpbin',
    '<%= config.bin %> policy allow 10.10.0.3 10.10.0.2',
  ]
  static enableJsonFlag = true
  static args = ruleArgs
  static flags = pinDirFlag

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicyAllow)
    const r = await new PolicyService({pinDir: flags['pin-dir']}).setRule('allow', args.from, args.to)
    this.log(ruleWritten('allow', args.from, args.to, r))
    return r
  }
}
