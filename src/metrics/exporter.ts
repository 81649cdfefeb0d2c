import {Counter, Gauge, Registry} from 'prom-client'
import {readCounterMap, type CounterSnapshot} from '../bpf/counters.js'
import {errorMessage} from '../host/errors.js'

// The Prometheus exporter over lab 3's pinned counter map. Each scrape reads the map
// once (batched, through libbpf) and both metric families are filled from that read:
//   ebpfcni_packets_total{source_addr, pod}  – this tool's name, with the pod resolved
//   ebpf_exporter_counter{source_addr}       – the original workshop's name (with compat), so its queries work

export interface ExporterOptions {
  /** Pinned counter map (lab 3: /sys/fs/bpf/ebpfcni/counter). */
  counterPin: string
  /** Pod IP -> pod name, asked at each scrape (pods come and go). */
  podNames: () => Map<string, string>
  /**
   * Also serve ebpf_exporter_counter{source_addr}, the original workshop's name. Off by
   * default: promtool's lint refuses any name ending in _counter, and /metrics should lint clean.
   */
  compat?: boolean
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

type Value = {labels: Record<string, string>; value: number}

/**
 * A prom-client metric whose values come straight from the last map read: get() hands the
 * registry the rows as they are, instead of re-adding 10,000 label sets through inc()/set()
 * and their label hashing at every scrape (that alone took the scrape past 50 ms).
 */
function snapshotMetric(Kind: typeof Counter | typeof Gauge, config: {name: string; help: string; labelNames?: string[]; registers: Registry[]}, values: () => Value[]): void {
  const metric = new Kind(config as never) as unknown as {get: () => Promise<unknown>; name: string; help: string; type: string; aggregator: string}
  metric.get = async () => ({name: metric.name, help: metric.help, type: metric.type, aggregator: metric.aggregator, values: values()})
}

export class CounterExporter {
  readonly registry = new Registry()
  private snapshot?: CounterSnapshot
  private names = new Map<string, string>()

  constructor(private readonly opts: ExporterOptions) {
    const rows = (): Array<[string, bigint]> => [...(this.snapshot?.counts ?? [])]
    snapshotMetric(Counter, {
      name: 'ebpfcni_packets_total',
      help: 'Packets seen by the XDP program on pod host veths, by IPv4 source address (lab 3 counter map).',
      labelNames: ['source_addr', 'pod'],
      registers: [this.registry],
    }, () => rows().map(([addr, n]) => ({labels: {source_addr: addr, pod: this.names.get(addr) ?? ''}, value: Number(n)})))
    // A gauge: promtool's lint wants counters named *_total, and this name is the original's.
    if (opts.compat) {
      snapshotMetric(Gauge, {
        name: 'ebpf_exporter_counter',
        help: 'The same counts under the original workshop\'s metric name (ebpf_exporter), for its queries.',
        labelNames: ['source_addr'],
        registers: [this.registry],
      }, () => rows().map(([addr, n]) => ({labels: {source_addr: addr}, value: Number(n)})))
    }
    snapshotMetric(Gauge, {
      name: 'ebpfcni_map_up',
      help: '1 when the pinned counter map could be read at this scrape, else 0.',
      registers: [this.registry],
    }, () => [{labels: {}, value: this.snapshot ? 1 : 0}])
    snapshotMetric(Gauge, {
      name: 'ebpfcni_map_entries',
      help: 'Entries (source addresses) in the counter map at this scrape.',
      registers: [this.registry],
    }, () => [{labels: {}, value: this.snapshot?.counts.size ?? 0}])
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
    } catch (err) {
      this.snapshot = undefined
      error = `cannot read ${this.opts.counterPin}: ${errorMessage(err)}`
    }
    const text = await this.registry.metrics()
    return {text, snapshot: this.snapshot, names: this.names, error, durationMs: performance.now() - t0}
  }
}
