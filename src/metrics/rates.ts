import type {CounterExporter} from './exporter.js'

// Per-source packet rates from successive counter reads, with a short history for sparklines.

export interface RateRow {
  addr: string
  pod: string
  total: bigint
  /** Packets per second over the last interval. */
  rate: number
  /** Recent rates, oldest first. */
  history: number[]
}

export class RateTracker {
  private last?: {at: number; counts: Map<string, bigint>}
  private readonly history = new Map<string, number[]>()

  constructor(private readonly keep = 30) {}

  /** Feed a read taken at `at` (ms); returns the rows, busiest first. */
  update(counts: Map<string, bigint>, at: number, names: Map<string, string>): RateRow[] {
    const prev = this.last
    this.last = {at, counts}
    const seconds = prev ? Math.max(0.001, (at - prev.at) / 1000) : 0
    const rows: RateRow[] = []
    for (const [addr, total] of counts) {
      const before = prev?.counts.get(addr)
      // A counter that went down was reset (map replaced): count from zero again.
      const delta = before === undefined || total < before ? (prev ? total : 0n) : total - before
      const rate = seconds ? Number(delta) / seconds : 0
      const h = this.history.get(addr) ?? []
      if (prev) h.push(rate)
      if (h.length > this.keep) h.shift()
      this.history.set(addr, h)
      rows.push({addr, pod: names.get(addr) ?? '', total, rate, history: [...h]})
    }
    return rows.sort((a, b) => b.rate - a.rate || (b.total > a.total ? 1 : b.total < a.total ? -1 : 0))
  }
}

/** `metrics --watch`: scrape every second until `stop`, handing each read's rows (busiest first) to `show`. */
export async function followRates(
  exporter: CounterExporter,
  stop: Promise<void>,
  show: (rows: RateRow[], error?: string) => void,
): Promise<void> {
  const tracker = new RateTracker()
  let done = false
  void stop.then(() => (done = true))
  while (!done) {
    const s = await exporter.scrape()
    show(s.snapshot ? tracker.update(s.snapshot.counts, Date.now(), s.names) : [], s.error)
    await Promise.race([stop, new Promise((r) => setTimeout(r, 1000))])
  }
}
