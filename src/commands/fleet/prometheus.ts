import {Flags} from '#oclif'
import chalk from 'chalk'
import {mkdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {hostsArg, loadHostList} from '../../ui/fleet-flags.js'
import {writeFileAtomic} from '../../host/atomic-file.js'
import {DEFAULT_STUCK_MINUTES} from '../../fleet/attendee.js'
import {RULES_FILE, TARGETS_FILE, fileSdTargets, prometheusConfig, recordingRules} from '../../fleet/prometheus.js'

export default class FleetPrometheus extends BaseCommand {
  static summary = "The room: a Prometheus config that scrapes every attendee VM's progress."
  static description = `Writes, into --out: prometheus.yml (one job, ebpfcni, keeping only ebpfcni_* series), ${TARGETS_FILE} (file_sd: one target per host of HOSTS, host:9100 where Debian's prometheus-node-exporter serves the textfile fleet textfile writes, labelled attendee=<its line>) and ${RULES_FILE} (recording rules ebpfcni:attendees_on_step, ebpfcni:no_progress_seconds, ebpfcni:attendees_stuck, and an alert). Run it again with a new host list: Prometheus re-reads the targets file by itself. Then start Prometheus on that config and watch with fleet top.`
  static examples = [
    '<%= config.bin %> fleet prometheus hosts.txt --out room',
    'prometheus --config.file=room/prometheus.yml --storage.tsdb.path=room/data --web.listen-address=127.0.0.1:9090',
  ]
  static args = {hosts: hostsArg}
  static flags = {
    out: Flags.string({description: 'The folder to write the three files into.', required: true}),
    'exporter-port': Flags.integer({
      description: "node-exporter's port on the VMs.",
      default: 9100,
      min: 1,
      max: 65535,
    }),
    'scrape-interval': Flags.integer({description: 'Seconds between scrapes.', default: 15, min: 1}),
    stuck: Flags.integer({
      description: 'Minutes without progress that make an attendee stuck.',
      default: DEFAULT_STUCK_MINUTES,
      min: 1,
    }),
  }
  protected requiresRoot = false

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FleetPrometheus)
    const list = loadHostList(args.hosts)
    for (const p of list.problems) this.logToStderr(`line ${p.line} of ${args.hosts} skipped (${p.text}): ${p.message}`)
    const dir = resolve(flags.out)
    mkdirSync(dir, {recursive: true})
    writeFileAtomic(join(dir, 'prometheus.yml'), prometheusConfig({scrapeIntervalS: flags['scrape-interval']}))
    writeFileAtomic(
      join(dir, TARGETS_FILE),
      `${JSON.stringify(fileSdTargets(list.hosts, flags['exporter-port']), null, 2)}\n`,
    )
    writeFileAtomic(join(dir, RULES_FILE), recordingRules({stuckMinutes: flags.stuck}))
    this.log(
      `${chalk.green('✔')} ${list.hosts.length} target(s) in ${join(dir, TARGETS_FILE)}; config and rules beside it`,
    )
    this.log(
      `Start it: prometheus --config.file=${join(dir, 'prometheus.yml')} --storage.tsdb.path=${join(dir, 'data')} --web.listen-address=127.0.0.1:9090`,
    )
    this.log(`Watch the room: ${this.config.bin} fleet top --prometheus http://127.0.0.1:9090`)
  }
}
