import {Gauge, Registry} from 'prom-client'
import {readCounterMap, type CounterSnapshot} from '../bpf/counters.js'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {errorMessage, UserError} from '../host/errors.js'
import {readDropReasons} from '../bpf/flow-events.js'
import {podNamesByIp} from '../pods/service.js'

// The Prometheus exporter over lab 3's pinned counter map. Each scrape reads the map
// once (batched, through libbpf) and both metric families are filled from that read:
//   ebpfcni_packets_total{source_addr, pod}  – this tool's name, with the pod resolved
//   ebpf_exporter_counter{source_addr}       – the original workshop's name (with compat), so its queries work
//   ebpfcni_drops_total{reason, direction}   – lab 4's drops by reason, when its drop_reasons map is pinned

export interface ExporterOptions {
  /** Pinned counter map (lab 3: /sys/fs/bpf/ebpfcni/counter). */
  counterPin: string
  /** Pod IP -> pod name, asked at each scrape (pods come and go). */
  podNames: () => Map<string, string>
  /**
   * Also serve ebpf_exporter_counter{source_addr}, the original workshop's name. Off by default:
   * promtool's lint refuses any name that contains "counter" (whatever its type), and /metrics
   * should lint clean.
   */
  compat?: boolean
  /** Lab 4's drops by reason (ebpfcni_flow.h); default: drop_reasons beside the counter map. */
  dropReasonsPin?: string
}

export interface Scrape {
  text: string
  /** What was read, or why nothing could be. */
  snapshot?: CounterSnapshot
  /** The pod names the scrape labelled with. */
  names: Map<string, string>
  error?: string
  durationMs: number
}

/** Label values in the text exposition format: backslash, double quote and newline escaped. */
const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/**
 * One metric family in the Prometheus text exposition format, written straight from the last map
 * read: 10,000 label sets re-added through prom-client's inc()/set() (or a collect() that resets
 * and sets them) cost more than the 50 ms a scrape may take, so the per-source families are
 * rendered here and prom-client keeps the registry of scalar gauges.
 */
function family(
  name: string,
  type: 'counter' | 'gauge',
  help: string,
  rows: Array<[Record<string, string>, bigint]>,
): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
  for (const [labels, value] of rows) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',')
    lines.push(`${name}{${l}} ${value}`)
  }
  return `${lines.join('\n')}\n`
}

export class CounterExporter {
  readonly registry = new Registry()
  private snapshot?: CounterSnapshot
  private names = new Map<string, string>()
  private readMs = 0
  private dropRows: Array<[Record<string, string>, bigint]> = []

  constructor(private readonly opts: ExporterOptions) {
    // The scalar gauges: prom-client's collect() runs at each scrape, after the map was read,
    // with `this` bound to the gauge: the exporter's state is reached through these closures.
    const snapshot = (): CounterSnapshot | undefined => this.snapshot
    const readMs = (): number => this.readMs
    new Gauge({
      name: 'ebpfcni_map_up',
      help: '1 when the pinned counter map could be read at this scrape, else 0.',
      registers: [this.registry],
      collect() {
        this.set(snapshot() ? 1 : 0)
      },
    })
    new Gauge({
      name: 'ebpfcni_map_entries',
      help: 'Entries (source addresses) in the counter map at this scrape.',
      registers: [this.registry],
      collect() {
        this.set(snapshot()?.counts.size ?? 0)
      },
    })
    new Gauge({
      name: 'ebpfcni_scrape_duration_seconds',
      help: 'Time this scrape spent reading the counter map (one batched read) and the pod names.',
      registers: [this.registry],
      collect() {
        // To the microsecond: the float noise of ms / 1000 (0.04402629999999999) says nothing more.
        this.set(Math.round(readMs() * 1000) / 1e6)
      },
    })
  }

  /** The per-source families from the last read. */
  private families(): string {
    const rows = [...(this.snapshot?.counts ?? [])]
    let text = family(
      'ebpfcni_packets_total',
      'counter',
      'Packets seen by the XDP program on pod host veths, by IPv4 source address (lab 3 counter map).',
      rows.map(([addr, n]) => [{source_addr: addr, pod: this.names.get(addr) ?? ''}, n]),
    )
    // The original's name, kept for its queries: promtool's lint refuses it whatever its TYPE
    // ("metric name should not include type 'counter'"); as a counter it would also need _total.
    if (this.opts.compat) {
      text += family(
        'ebpf_exporter_counter',
        'gauge',
        "The same counts under the original workshop's metric name (ebpf_exporter), for its queries.",
        rows.map(([addr, n]) => [{source_addr: addr}, n]),
      )
    }
    if (this.dropRows.length)
      text += family(
        'ebpfcni_drops_total',
        'counter',
        "Packets lab 4's programs dropped, by reason and direction (from-pod: xdp_prog, to-pod: to_pod).",
        this.dropRows,
      )
    return text
  }

  /** Lab 4's drops by reason; none before lab 4's program is loaded (or when its map cannot be read). */
  private readDropReasons(): void {
    const pin = this.opts.dropReasonsPin ?? join(dirname(this.opts.counterPin), 'drop_reasons')
    try {
      this.dropRows = existsSync(pin)
        ? readDropReasons(pin).map((r) => [{reason: r.reason.name, direction: r.direction}, r.drops])
        : []
    } catch {
      this.dropRows = []
    }
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /** Read the map and render the exposition text. A missing map is reported, not thrown. */
  async scrape(): Promise<Scrape> {
    const t0 = performance.now()
    let error: string | undefined
    try {
      this.snapshot = readCounterMap(this.opts.counterPin)
      this.names = this.opts.podNames()
      this.readDropReasons()
    } catch (err) {
      this.snapshot = undefined
      error = `cannot read ${this.opts.counterPin}: ${errorMessage(err)}`
    }
    this.readMs = performance.now() - t0
    const text = this.families() + (await this.registry.metrics())
    return {text, snapshot: this.snapshot, names: this.names, error, durationMs: performance.now() - t0}
  }

  /** `metrics --once`: one scrape's text; a scrape that failed, or counted no packet, is a UserError (exit 1 for the latter). */
  async scrapeOnce(): Promise<string> {
    const s = await this.scrape()
    if (s.error) throw new UserError(s.error)
    // An empty scrape would pass any pipe's check (promtool accepts no input): say so, and fail.
    if (!s.snapshot?.counts.size)
      throw new UserError(`nothing to export: ${this.opts.counterPin} has counted no packet yet`, {
        exitCode: 1,
        hint: 'make pods and traffic first (ebpfcni pod add httpbin && ebpfcni pod add sleep --workload sleep && ebpfcni pod probe sleep httpbin); pods made before the program was loaded run the old one: delete and re-add them',
      })
    return s.text
  }
}

/** `ebpfcni metrics`' exporter over the counter map pinned at `pin` (pods named from ebpfcni's records); a UserError saying what pins it when none is. */
export function pinnedCounterExporter(pin: string, compat: boolean): CounterExporter {
  if (!existsSync(pin)) {
    throw new UserError(`no counter map is pinned at ${pin}`, {
      hint: 'lab 3 pins it when its program loads: ebpfcni bpf build && ebpfcni bpf load --replace (or ebpfcni check 3): both use your workspace',
    })
  }
  return new CounterExporter({counterPin: pin, podNames: podNamesByIp, compat})
}
