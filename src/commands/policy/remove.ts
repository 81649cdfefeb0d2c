import {Args} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag} from '../../ui/policy-flags.js'

export default class PolicyRemove extends BaseCommand {
  static summary = 'Remove the hand-written rule for FROM → TO (deny or allow).'
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
    this.log(
      `${chalk.green('✔')} removed the rule ${args.from} → ${args.to} (${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} removed)`,
    )
    return r
  }
}
