import {Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import chalk from 'chalk'
import {BaseCommand, interactive, untilStopped} from '../ui/base-command.js'
import {BPF_PIN_ROOT, packageRoot} from '../host/paths.js'
import {UserError} from '../host/errors.js'
import {CounterExporter} from '../metrics/exporter.js'
import {startMetricsServer, type MetricsServer} from '../metrics/server.js'
import {RateTracker} from '../metrics/rates.js'
import {startExporterProcess, stopExporterProcesses} from '../metrics/background.js'
import {renderRates} from '../ui/rates-view.js'
import {podNamesByIp} from '../pods/service.js'
import {signalReady} from '../host/background.js'

/** Packet totals are u64s (bigint): JSON has no such number, so they are written as strings. */
const bigintAsString = (_key: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v)

export default class Metrics extends BaseCommand {
  static summary = "Prometheus exporter over lab 3's pinned counter map, with a live view."
  static description =
    "Serves http://HOST:PORT/metrics with ebpfcni_packets_total{source_addr,pod} (pod names from ebpfcni's pod records), ebpfcni_map_up, ebpfcni_map_entries and ebpfcni_scrape_duration_seconds; with --compat also ebpf_exporter_counter{source_addr}, the original workshop's name, for its queries (promtool check metrics refuses that name, which contains 'counter': lint the default output). Each scrape reads the map once, through libbpf. Loopback only unless you pass --host (or --web.listen-address, as ebpf_exporter takes it). --once prints one scrape and exits 1, printing nothing, when the map has counted no packet yet. --watch shows per-pod packet rates, refreshed each second; with --json it prints one JSON object per refresh (NDJSON, packet totals as strings: they are 64-bit)."

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
    if (flags['web.listen-address']) {
      const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(flags['web.listen-address'])
      if (!m || Number(m[2]) > 65535)
        throw new UserError(`--web.listen-address ${flags['web.listen-address']} is not HOST:PORT`, {
          hint: 'e.g. --web.listen-address 127.0.0.1:9435',
        })
      flags.host = m[1] || '0.0.0.0'
      flags.port = Number(m[2])
    }
    if (flags.stop) {
      const n = await stopExporterProcesses()
      return this.log(n ? `stopped ${n} exporter(s)` : 'no background exporter was running')
    }
    if (!existsSync(flags.map)) {
      throw new UserError(`no counter map is pinned at ${flags.map}`, {
        hint: 'lab 3 pins it when its program loads: ebpfcni bpf build && ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace (or ebpfcni check 3)',
      })
    }
    const exporter = new CounterExporter({counterPin: flags.map, podNames: podNamesByIp, compat: flags.compat})
    if (flags.once) {
      const s = await exporter.scrape()
      if (s.error) throw new UserError(s.error)
      // An empty scrape would pass any pipe's check (promtool accepts no input): say so, and fail.
      if (!s.snapshot?.counts.size)
        throw new UserError(`nothing to export: ${flags.map} has counted no packet yet`, {
          exitCode: 1,
          hint: 'make pods and traffic first (ebpfcni pod add httpbin && ebpfcni pod add sleep --workload sleep && ebpfcni pod probe sleep httpbin); pods made before the program was loaded run the old one: delete and re-add them',
        })
      process.stdout.write(s.text)
      return
    }
    if (flags.background) {
      const args = [
        '--host',
        flags.host,
        '--port',
        String(flags.port),
        '--map',
        flags.map,
        ...(flags.compat ? ['--compat'] : []),
      ]
      const {pid, log} = await startExporterProcess(join(packageRoot(), 'bin', 'run.js'), args, {lab: 3}).catch(
        (err: Error) => {
          throw new UserError(err.message, {
            hint: `is port ${flags.port} taken? ebpfcni metrics --stop, or pick --port`,
          })
        },
      )
      return this.log(
        `${chalk.green('✔')} exporter running (pid ${pid}) on http://${flags.host}:${flags.port}/metrics; log ${log}; stop with: ebpfcni metrics --stop`,
      )
    }

    let server: MetricsServer
    try {
      server = await startMetricsServer(exporter, {
        host: flags.host,
        port: flags.port,
        onError: (m) => this.logToStderr(`warning: ${m}`),
      })
    } catch (err) {
      throw new UserError(`cannot listen on ${flags.host}:${flags.port}: ${(err as Error).message}`, {
        hint: 'another exporter may be running (ebpfcni metrics --stop), or pick --port',
      })
    }
    this.log(`started; serving ${server.url} (map ${flags.map})${flags.watch ? '' : '; Ctrl-C to stop'}`)
    signalReady()
    const stop = untilStopped(flags.for)
    if (flags.watch) await this.watch(exporter, flags.map, server.url, stop, flags.json)
    else await stop
    await server.close()
  }

  /** Re-read every second and redraw (in place on a terminal; appended otherwise). */
  private async watch(
    exporter: CounterExporter,
    pin: string,
    url: string,
    stop: Promise<void>,
    ndjson = false,
  ): Promise<void> {
    const tracker = new RateTracker()
    const tty = interactive()
    let done = false
    void stop.then(() => (done = true))
    while (!done) {
      const s = await exporter.scrape()
      const rows = s.snapshot ? tracker.update(s.snapshot.counts, Date.now(), s.names) : []
      if (ndjson) {
        process.stdout.write(
          `${JSON.stringify({time: new Date().toISOString(), url, error: s.error ?? null, pods: rows}, bigintAsString)}\n`,
        )
      } else {
        const view = renderRates(rows, {pin, url, error: s.error})
        process.stdout.write(tty ? `\u001b[H\u001b[2J${view}` : `${view}\n`)
      }
      await Promise.race([stop, new Promise((r) => setTimeout(r, 1000))])
    }
  }
}
