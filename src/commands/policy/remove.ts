import {Args} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag} from '../../ui/policy-flags.js'
import {describeRuleRemoval} from '../../ui/policy-removal.js'

export default class PolicyRemove extends BaseCommand {
  static summary = 'Remove the hand-written rule for FROM → TO (deny or allow).'
  static description =
    'Removes the rule from the store and brings the maps in line, then says what became of the entry it wrote: deleted; kept or changed because another rule or a NetworkPolicy writes the same pair; or absent already (the maps held none). No such rule: exit 2, nothing changed.'
  static examples = ['<%= config.bin %> policy remove sleep httpbin']
  static enableJsonFlag = true
  static args = {
    from: Args.string({
      ignoreStdin: true,
      description: 'Sending pod (name or IPv4), as given to deny/allow.',
      required: true,
    }),
    to: Args.string({
      ignoreStdin: true,
      description: 'Receiving pod (name or IPv4), as given to deny/allow.',
      required: true,
    }),
  }
  static flags = pinDirFlag

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicyRemove)
    const r = await new PolicyService({pinDir: flags['pin-dir']}).removeRule(args.from, args.to)
    this.log(`${chalk.green('✔')} ${describeRuleRemoval(r)}`)
    return r
  }
}
