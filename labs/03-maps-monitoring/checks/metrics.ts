import {fail, listSome, type CheckDefinition} from '#checks/engine.js'
import type {Lab3Context} from '../context.js'
import {readCounterMap} from '#bpf/counters.js'
import {sendUdp} from '#net/probes.js'
import {CounterExporter} from '#metrics/exporter.js'
import {startMetricsServer} from '#metrics/server.js'
import {parseExposition, promtoolCheck} from '#metrics/exposition.js'
import {counterMapProblems, twoPods} from './shared.js'

/** Step metrics's checks (lab.yaml orders the run). */
export const METRICS_CHECKS: Array<CheckDefinition<Lab3Context>> = [
  {
    id: 'metrics.scrape',
    title: "the exporter's /metrics value for pod A equals the map's count for A",
    hint: "Compare ebpfcni metrics --once with ebpfcni bpf maps counter: the series are labelled with the map's keys as addresses.",
    run: async (ctx) => {
      const [a, b] = await twoPods(ctx)
      await ctx.pinned.requireCounterMap()
      // Not a hash: the exporter lists every slot of an array as a source, and A's address is none of them.
      const {info, typeProblem} = counterMapProblems(ctx.pinned.counterPin())
      if (typeProblem)
        fail(
          `${ctx.pinned.counterPin()} is not the map step counter asks for: ${typeProblem}. An array has every key from 0 to ${info.maxEntries - 1} from the start (the exporter would list ${info.maxEntries} sources), and an address is no index in it`,
          'declare counter with __uint(type, BPF_MAP_TYPE_HASH) (step counter; ebpfcni check 3 --step counter checks its shape: map.counter.pinned)',
        )
      await ctx.pinned.counters()
      await sendUdp(a.netnsPath, b.ip, 9, 5)
      const exporter = new CounterExporter({
        counterPin: ctx.pinned.counterPin(),
        podNames: () =>
          new Map([
            [a.ip, 'httpbin'],
            [b.ip, 'sleep'],
          ]),
        compat: true,
      })
      const server = await startMetricsServer(exporter, {host: '127.0.0.1', port: 0})
      try {
        const lo = readCounterMap(ctx.pinned.counterPin()).counts.get(a.ip) ?? 0n
        const res = await fetch(server.url, {signal: AbortSignal.timeout(5000)})
        const text = await res.text()
        const hi = readCounterMap(ctx.pinned.counterPin()).counts.get(a.ip) ?? 0n
        if (res.status !== 200) fail(`GET ${server.url}: HTTP ${res.status}`)
        const samples = parseExposition(text)
        const mine = samples.find((s) => s.name === 'ebpfcni_packets_total' && s.labels.source_addr === a.ip)
        if (!mine) {
          const sources = samples.filter((s) => s.name === 'ebpfcni_packets_total').map((s) => s.labels.source_addr)
          fail(
            `no ebpfcni_packets_total series for pod A (${a.ip}); sources in the scrape: ${listSome(sources) || 'none'}`,
          )
        }
        if (mine.labels.pod !== 'httpbin') fail(`A's series is labelled pod="${mine.labels.pod}", expected "httpbin"`)
        if (BigInt(Math.round(mine.value)) < lo || BigInt(Math.round(mine.value)) > hi)
          fail(`the scrape says ${mine.value} for A, the map said ${lo} before and ${hi} after the scrape`)
        const compat = samples.find((s) => s.name === 'ebpf_exporter_counter' && s.labels.source_addr === a.ip)
        if (compat?.value !== mine.value)
          fail(`ebpf_exporter_counter for A is ${compat?.value ?? 'absent'}, ebpfcni_packets_total is ${mine.value}`)
        return `ebpfcni_packets_total{source_addr="${a.ip}",pod="httpbin"} ${mine.value} (map: ${lo}..${hi})`
      } finally {
        await server.close()
      }
    },
  },
  {
    id: 'metrics.valid',
    title: "promtool check metrics accepts the exporter's output, and it holds the map's series",
    hint: "The exporter reads a map keyed by a 4-byte address with a 4- or 8-byte count (__u64 is the lab's: a __u32 wraps after 4 billion packets), shared or per-CPU; any other value size it cannot read.",
    run: async (ctx) => {
      const [a, b] = await twoPods(ctx)
      await ctx.pinned.requireCounterMap()
      await sendUdp(a.netnsPath, b.ip, 9, 2)
      const s = await new CounterExporter({counterPin: ctx.pinned.counterPin(), podNames: () => new Map()}).scrape()
      if (s.error) fail(`the exporter could not read the map: ${s.error}`)
      const series = parseExposition(s.text).filter((x) => x.name === 'ebpfcni_packets_total')
      if (!series.length) fail('the scrape has no ebpfcni_packets_total series although pod A sent packets')
      const problems = await promtoolCheck(s.text)
      if (problems) fail(`promtool check metrics: ${problems}`)
      return `promtool accepts ${s.text.split('\n').length} lines, ${series.length} series`
    },
  },
]
