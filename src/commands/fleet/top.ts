import {Flags} from '#oclif'
import {BaseCommand, interactive} from '../../ui/base-command.js'
import {DEFAULT_STUCK_MINUTES, stepCounts} from '../../fleet/attendee.js'
import {fleetFromPrometheus} from '../../fleet/prometheus.js'
import {fleetSummary, fleetTable, liveFrame} from '../../ui/fleet-view.js'
import {interrupted, whenInterrupted} from '../../host/interrupt.js'
import {UserError} from '../../host/errors.js'

export default class FleetTop extends BaseCommand {
  static summary = 'The room, live: who is on which step and who is stuck, from Prometheus.'
  static description = `Queries the Prometheus that fleet prometheus configured and redraws, every --interval seconds, one row per attendee VM (lab and step, minutes on it, check runs, hints, the failing check, stuck or not) and a line counting attendees per step. A VM Prometheus cannot scrape is a "down" row. Live, the view fits the terminal: a line counting the room, the attendees per step, then stuck and down VMs first, one short row each, and a count of the rows that do not fit. Without a terminal, or with --once or --json, it prints every row once. Ctrl-C stops it. The same view over SSH, with no Prometheus: fleet report.`
  static examples = [
    '<%= config.bin %> fleet top',
    '<%= config.bin %> fleet top --prometheus http://10.0.0.2:9090 --once --json',
  ]
  static enableJsonFlag = true
  static flags = {
    prometheus: Flags.string({description: "Prometheus's address.", default: 'http://127.0.0.1:9090'}),
    interval: Flags.integer({description: 'Seconds between redraws.', default: 5, min: 1}),
    once: Flags.boolean({description: 'Print the table once and exit.'}),
    stuck: Flags.integer({
      description: 'Minutes without progress that make an attendee stuck.',
      default: DEFAULT_STUCK_MINUTES,
      min: 1,
    }),
    timeout: Flags.integer({description: 'Seconds a query may take.', default: 10, min: 1}),
  }
  protected requiresRoot = false

  async run(): Promise<unknown> {
    const {flags} = await this.parse(FleetTop)
    try {
      new URL(flags.prometheus)
    } catch {
      throw new UserError(`--prometheus "${flags.prometheus}" is not a URL`, {hint: 'as in http://127.0.0.1:9090'})
    }
    const read = async () => {
      try {
        return await fleetFromPrometheus(flags.prometheus, {stuckMinutes: flags.stuck, timeoutMs: flags.timeout * 1000})
      } catch (e) {
        throw new UserError((e as Error).message, {
          hint: 'start it with the command fleet prometheus printed, or give --prometheus',
        })
      }
    }
    const once = flags.once || this.jsonEnabled() || !interactive()
    if (once) {
      const rows = await read()
      this.log(fleetTable(rows))
      this.log(fleetSummary(rows))
      return {rows, steps: stepCounts(rows)}
    }
    while (!interrupted()) {
      // Live, a Prometheus that restarts is a line on screen and the next round tries again.
      const rows = await read().catch((e: Error) => e)
      // One screen, drawn from its top: never wider or taller than the terminal, so a redraw never
      // scrolls the stuck attendees (sorted first) out of sight.
      const size = {columns: process.stdout.columns || 80, rows: process.stdout.rows || 24}
      const header = `${new Date().toLocaleTimeString()}  ${flags.prometheus}  (every ${flags.interval} s; Ctrl-C stops)`
      process.stdout.write(liveFrame(rows, size, header))
      await Promise.race([new Promise((r) => setTimeout(r, flags.interval * 1000)), whenInterrupted()])
    }
    process.stdout.write('\n')
    return undefined
  }
}
