import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag} from '../../ui/policy-flags.js'
import {table} from '../../ui/render.js'

export default class PolicyList extends BaseCommand {
  static summary = "Show the rules in the datapath's maps, decoded, and what is stored."
  static examples = ['<%= config.bin %> policy list', '<%= config.bin %> policy list --json']
  static enableJsonFlag = true
  static flags = pinDirFlag

  async run(): Promise<unknown> {
    const {flags} = await this.parse(PolicyList)
    const svc = new PolicyService({pinDir: flags['pin-dir']})
    const maps = await svc.list()
    const stored = svc.store.read()
    this.log(chalk.bold(`${maps.mode} design`) + chalk.dim(` (maps under ${flags['pin-dir']})`))
    this.log(
      maps.rules.length
        ? table(
            ['MAP', 'FROM', 'TO', 'VERDICT'],
            maps.rules.map((r) => [
              r.map,
              r.from,
              r.to,
              r.verdict === 'deny' ? chalk.red(r.verdict) : chalk.green(r.verdict),
            ]),
          )
        : chalk.dim('no rules in the map'),
    )
    if (maps.isolated.length) this.log(`isolated (default-deny ingress): ${maps.isolated.join(', ')}`)
    if (maps.identities.length)
      this.log(
        table(
          ['ADDRESS', 'POD', 'IDENTITY', 'LABELS'],
          maps.identities.map((i) => [i.ip, i.pod || '-', String(i.identity), i.labels || '-']),
        ),
      )
    this.log(
      chalk.dim(
        `stored: ${stored.rules.length} hand-written rule(s); NetworkPolicies: ${Object.keys(stored.policies).join(', ') || 'none'}`,
      ),
    )
    return {...maps, stored: {rules: stored.rules, policies: Object.keys(stored.policies)}}
  }
}
