import {Args} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag} from '../../ui/policy-flags.js'

export default class PolicyDelete extends BaseCommand {
  static summary = 'Delete an applied NetworkPolicy by name; its pods are no longer isolated.'
  static examples = ['<%= config.bin %> policy delete httpbin-allow-sleep']
  static enableJsonFlag = true
  static args = {name: Args.string({ignoreStdin: true, description: 'metadata.name of the policy.', required: true})}
  static flags = pinDirFlag

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicyDelete)
    const r = await new PolicyService({pinDir: flags['pin-dir']}).deletePolicy(args.name)
    this.log(
      `${chalk.green('✔')} deleted NetworkPolicy ${chalk.bold(args.name)} (${r.removed} entries removed, ${r.written} written)`,
    )
    return r
  }
}
