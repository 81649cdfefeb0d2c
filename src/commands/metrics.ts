import {Flags} from '#oclif'
import {dirname, join} from 'node:path'
import chalk from 'chalk'
import {BaseCommand, interactive, untilStopped} from '../ui/base-command.js'
import {BPF_PIN_ROOT, workspaceDir} from '../host/paths.js'
import {pinnedCounterExporter} from '../metrics/exporter.js'
import {parseListenAddress, serveMetrics} from '../metrics/server.js'
import {followRates} from '../metrics/rates.js'
import {startBackgroundExporter, stopExporterProcesses} from '../metrics/background.js'
import {ratesRefresh} from '../ui/rates-view.js'
import {signalReady} from '../host/background.js'
import {staleLoadWarning} from '../ui/stale-load.js'
import {orphanedPinLines} from '../bpf/map-users.js'

export default class Metrics extends BaseCommand {
  static summary = "Prometheus exporter over lab 3's pinned counter map, with a live view."
  static description =
    "Serves http://HOST:PORT/metrics with ebpfcni_packets_total{source_addr,pod} (pod names from ebpfcni's pod records), ebpfcni_map_up, ebpfcni_map_entries and ebpfcni_scrape_duration_seconds; with --compat also ebpf_exporter_counter{source_addr}, the original workshop's name, for its queries (promtool check metrics refuses that name, which contains 'counter': lint the default output). Each scrape reads the map once, through libbpf. Loopback only unless you pass --host (or --web.listen-address, as ebpf_exporter takes it). --once prints one scrape and exits 1, printing nothing, when the map has counted no packet yet. On stderr it warns when the workspace's ebpfcni.bpf.c was saved after the programs were loaded, and when no loaded program uses the map (a pin left when the program's map got another name): then its counts no longer change. --watch shows per-pod packet rates, refreshed each second; with --json it prints one JSON object per refresh (NDJSON, packet totals as strings: they are 64-bit)."

  static examples = [
    '<%= config.bin %> metrics',
    '<%= config.bin %> metrics --watch',
    '<%= config.bin %> metrics --once > scrape.prom && promtool check metrics < scrape.prom',
    '<%= config.bin %> metrics --background     # then: curl -s 127.0.0.1:9435/metrics',
    '<%= config.bin %> metrics --stop',
  ]

  static flags = {
    host: Flags.string({description: 'Address to listen on.', default: '127.0.0.1'}),
    port: Flags.integer({description: 'Port to listen on.', default: 9435, min: 0, max: 65535}),
    'web.listen-address': Flags.string({
      description:
        'HOST:PORT to listen on, as ebpf_exporter and Prometheus exporters take it (instead of --host/--port).',
    }),
    map: Flags.string({description: 'Pinned counter map.', default: join(BPF_PIN_ROOT, 'counter')}),
    watch: Flags.boolean({description: 'Live table of per-pod packet rates (also serves /metrics).'}),
    json: Flags.boolean({
      description: 'With --watch: one JSON object per refresh (NDJSON) instead of the table.',
      dependsOn: ['watch'],
    }),
    once: Flags.boolean({
      description: 'Print one scrape to stdout and exit (no server).',
      exclusive: ['watch', 'background'],
    }),
    background: Flags.boolean({
      description: 'Run the exporter in the background (stopped by --stop or ebpfcni reset).',
      exclusive: ['watch'],
    }),
    stop: Flags.boolean({description: 'Stop exporters started with --background.'}),
    compat: Flags.boolean({
      description: "Also serve ebpf_exporter_counter{source_addr}, the original workshop's metric name.",
    }),
    for: Flags.integer({description: 'Stop after this many seconds (default: until Ctrl-C).', min: 1}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Metrics)
    const {host, port} = flags['web.listen-address'] ? parseListenAddress(flags['web.listen-address']) : flags
    if (flags.stop) {
      const n = await stopExporterProcesses()
      return this.log(n ? `stopped ${n} exporter(s)` : 'no background exporter was running')
    }
    const exporter = pinnedCounterExporter(flags.map, flags.compat)
    // Counts that no longer move, said where they are read (stderr: stdout is the exposition).
    if (!flags.background) await this.warnAboutCounts(flags.map)
    if (flags.once) return void process.stdout.write(await exporter.scrapeOnce())
    if (flags.background) {
      const {pid, log} = await startBackgroundExporter({host, port, map: flags.map, compat: flags.compat})
      return this.log(
        `${chalk.green('✔')} exporter running (pid ${pid}) on http://${host}:${port}/metrics; log ${log}; stop with: ebpfcni metrics --stop`,
      )
    }
    const server = await serveMetrics(exporter, {host, port, onError: (m) => this.logToStderr(`warning: ${m}`)})
    this.log(`started; serving ${server.url} (map ${flags.map})${flags.watch ? '' : '; Ctrl-C to stop'}`)
    signalReady()
    const stop = untilStopped(flags.for)
    const view = {pin: flags.map, url: server.url, ndjson: flags.json, tty: interactive()}
    if (flags.watch)
      await followRates(exporter, stop, (rows, error) => process.stdout.write(ratesRefresh(rows, {...view, error})))
    else await stop
    await server.close()
  }

  /** Code saved after the load, and a counter map no loaded program uses: their counts no longer follow the source. */
  private async warnAboutCounts(map: string): Promise<void> {
    const stale = staleLoadWarning(dirname(map))
    if (stale) this.logToStderr(stale)
    for (const line of await orphanedPinLines(dirname(map), map, join(workspaceDir(), 'ebpfcni.bpf.o')))
      this.logToStderr(`${chalk.yellow('warning:')} ${line}`)
  }
}
