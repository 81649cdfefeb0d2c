import {Flags} from '#oclif'
import {BaseCommand} from '../../ui/base-command.js'
import {fleetOptions, hostsArg, loadHostList, sshFlags} from '../../ui/fleet-flags.js'
import {resetFleet} from '../../fleet/reset.js'
import {resetTable} from '../../ui/fleet-view.js'
import {progressLine} from '../../ui/progress-line.js'
import {UserError} from '../../host/errors.js'

export default class FleetReset extends BaseCommand {
  static summary = 'The room: reset every attendee VM after the session, and prove each clean.'
  static description = `Runs ebpfcni reset --all --yes on every host of HOSTS over SSH, a bounded number at once (-j), then ebpfcni reset --all --dry-run --json on each: a host is clean only when that dry run finds nothing left. One row per host: clean, dirty (what stayed), down or error. --progress also forgets the attendees' progress, as reset --progress does. Exits 1 when any host is not clean.`
  static examples = [
    '<%= config.bin %> fleet reset hosts.txt',
    '<%= config.bin %> fleet reset hosts.txt --progress -i ~/.ssh/room --json',
  ]
  static enableJsonFlag = true
  static args = {hosts: hostsArg}
  static flags = {
    ...sshFlags,
    progress: Flags.boolean({description: "Also forget each attendee's progress (reset --progress)."}),
  }
  protected requiresRoot = false

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(FleetReset)
    const list = loadHostList(args.hosts)
    for (const p of list.problems) this.logToStderr(`line ${p.line} of ${args.hosts} skipped (${p.text}): ${p.message}`)
    const line = progressLine(this.jsonEnabled() ? undefined : process.stderr)
    const rows = await resetFleet(list.hosts, {...fleetOptions(flags), forgetProgress: flags.progress}, (_r, done) =>
      line.update(`reset ${done}/${list.hosts.length} host(s)`),
    )
    line.done()
    this.log(resetTable(rows))
    const clean = rows.filter((r) => r.state === 'clean').length
    this.log(`${clean}/${rows.length} host(s) clean`)
    const result = {rows, clean, hosts: rows.length, skippedLines: list.problems}
    if (clean < rows.length) {
      if (this.jsonEnabled()) {
        process.exitCode = 1
        return result
      }
      throw new UserError(`${rows.length - clean} host(s) are not clean`, {
        exitCode: 1,
        hint: 'run fleet reset again on them, or look at the NOTE column',
      })
    }
    return result
  }
}
