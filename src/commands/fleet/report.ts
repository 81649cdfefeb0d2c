import {Flags} from '#oclif'
import {BaseCommand} from '../../ui/base-command.js'
import {fleetOptions, hostsArg, loadHostList, sshFlags} from '../../ui/fleet-flags.js'
import {badLineRows, reportFleet} from '../../fleet/report.js'
import {DEFAULT_STUCK_MINUTES, stepCounts} from '../../fleet/attendee.js'
import {fleetSummary, fleetTable} from '../../ui/fleet-view.js'
import {progressLine} from '../../ui/progress-line.js'

export default class FleetReport extends BaseCommand {
  static summary = "The room: every attendee's lab, step and failing check, over SSH."
  static description = `Runs ebpfcni status --json on every host of HOSTS over SSH (OpenSSH's client: your keys, agent and ~/.ssh/config), a bounded number at once (-j), each within --timeout, and prints one row per attendee: lab and step, minutes on it, check runs, hints, the failing check, and "stuck" when nothing got further for --stuck minutes on a step whose checks fail. A host that is down, hangs or answers junk is a row saying so; a line of HOSTS that is not a host is one too. The same view from Prometheus: fleet top.`
  static examples = [
    '<%= config.bin %> fleet report hosts.txt',
    '<%= config.bin %> fleet report hosts.txt -i ~/.ssh/room -j 128 --json',
    'terraform output -json > hosts.json && <%= config.bin %> fleet report hosts.json',
  ]
  static enableJsonFlag = true
  static args = {hosts: hostsArg}
  static flags = {
    ...sshFlags,
    stuck: Flags.integer({
      description: 'Minutes without progress that make an attendee stuck.',
      default: DEFAULT_STUCK_MINUTES,
      min: 1,
    }),
  }
  protected requiresRoot = false

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(FleetReport)
    const list = loadHostList(args.hosts)
    const progress = progressLine(this.jsonEnabled() ? undefined : process.stderr)
    const rows = await reportFleet(
      list.hosts,
      fleetOptions(flags),
      {stuckMinutes: flags.stuck, now: Date.now()},
      (_r, done) => progress.update(`asked ${done}/${list.hosts.length} host(s)`),
    )
    progress.done()
    const all = [...rows, ...badLineRows(list)]
    this.log(fleetTable(all))
    this.log(fleetSummary(all))
    return {rows: all, steps: stepCounts(all)}
  }
}
