import {fail, type CheckDefinition} from '#checks/engine.js'
import type {Lab6Context} from '../context.js'
import type {RequestResult} from '../client.js'
import {maglevLoaded, maglevProgram, remap, FLOWS, SYNTHETIC} from '../maglev-run.js'
import {failures, synList} from './socket-lb.js'

// Step 4: Maglev. Real connections through the learner's connect4 (the table's lookup in
// connect()), and 10,000 synthetic flows through the same lookup in maglev_xdp, run by
// BPF_PROG_TEST_RUN, before and after one of 5 backends goes.

const REQUESTS = 300
const SPREAD = 30
/** The most of the flows a Maglev lookup may remap when one of 5 backends goes (20% were on it). */
export const MAX_REMAP = 0.25

const pct = (n: number, of: number): string => `${((100 * n) / of).toFixed(1)}%`

export const MAGLEV_CHECKS: Array<CheckDefinition<Lab6Context>> = [
  {
    id: 'maglev.loads',
    title: 'maglev.bpf.c compiles, the verifier accepts connect4 and maglev_xdp, and connect4 attaches to a cgroup',
    hint: 'maglev_backend(): look the table up (maglev, key svc->id), j = hash % MAGLEV_M, barrier_var(j); if (j >= MAGLEV_M) return NULL; then the backend at {svc->id, t->entry[j]}.',
    cost: 'cheap',
    run: async (ctx) => {
      await maglevProgram(ctx)
      const m = await maglevLoaded(ctx)
      return `connect4 and maglev_xdp load; connect4 is attached (cgroup/connect4) to ${m.attachedTo}, each Service has its Maglev table`
    },
  },
  {
    id: 'maglev.spread',
    title: `${REQUESTS} HTTP requests to the VIP through the Maglev lookup in connect4 are all answered, ${REQUESTS / 3} ± ${SPREAD} by each of 3 backends`,
    hint: 'maglev_backend() returns the backend at {svc->id, t->entry[j]}, j = hash % MAGLEV_M: the hash (a socket cookie in connect4) picks the table position, the position names the backend.',
    run: async (ctx) => {
      const m = await maglevLoaded(ctx)
      const s = m.services
      const service = s.services[0]
      const to = {ip: service.clusterIP, port: service.port}
      const {results, wire} = await ctx.requests(s.client, m.clientCgroup, to, REQUESTS)
      const vip = `${service.clusterIP}:${service.port}`
      const answered = results.filter((r) => r.ok).length
      const toVip = wire.toVip.get(service.clusterIP) ?? 0n
      if (answered < REQUESTS || toVip > 0n)
        fail(
          `${answered} of ${results.length} requests to ${vip} answered (${failures(results) || 'no failure'}); ${toVip} packets left the client addressed to the VIP; its SYNs went to ${synList(wire)}`,
          toVip > 0n
            ? 'connect() kept the VIP: maglev_backend() returned NULL, so connect4 left the address alone. Look the table up in maglev with the key svc->id, and the backend in backends with {svc->id, t->entry[j]}.'
            : undefined,
        )
      const spreadOf = (rs: RequestResult[]) => {
        const byPod = new Map<string, number>(s.backends.map((b) => [b.netnsName, 0]))
        for (const r of rs) if (r.ok && r.pod) byPod.set(r.pod, (byPod.get(r.pod) ?? 0) + 1)
        const counts = s.backends.map((b, i) => `web-${i + 1} ${byPod.get(b.netnsName) ?? 0}`).join(', ')
        const off = s.backends.some((b) => Math.abs((byPod.get(b.netnsName) ?? 0) - REQUESTS / 3) > SPREAD)
        return {counts, off}
      }
      let spread = spreadOf(results)
      if (spread.off) {
        // As in step 1: a fair pick misses 100 ± 30 about once in a thousand runs; 300 more decide.
        const first = spread.counts
        spread = spreadOf((await ctx.requests(s.client, m.clientCgroup, to, REQUESTS)).results)
        if (spread.off)
          fail(
            `all ${REQUESTS} answered, but not spread: ${first}, then ${spread.counts} (each should get ${REQUESTS / 3} ± ${SPREAD})`,
            'The table position must come from the flow: j = hash % MAGLEV_M, and t->entry[j] is the slot of the backend (not a fixed position).',
          )
      }
      return `all ${REQUESTS} requests to ${vip} answered through the Maglev table: ${spread.counts}; 0 packets addressed to the VIP`
    },
  },
  {
    id: 'maglev.remap',
    title: `of ${FLOWS.toLocaleString('en')} synthetic flows, removing one of 5 backends remaps at most ${MAX_REMAP * 100}% through your lookup (hash % N: about 80%)`,
    hint: 'hash % svc->count is not Maglev: when N changes, most flows move. Index the table: the backend is the one at {svc->id, t->entry[hash % MAGLEV_M]}.',
    cost: 'cheap',
    run: async (ctx) => {
      const r = await remap(ctx)
      const side = `hash % N on the same flows: ${r.modNRemapped.toLocaleString('en')} (${pct(r.modNRemapped, r.flows)})`
      if (r.stray)
        fail(
          `maglev_xdp sent a flow to ${r.stray}, which is no backend of the Service ${SYNTHETIC.vip}:${SYNTHETIC.port}`,
          "Return the backend found in backends with the Service's id and the slot from the table: {svc->id, t->entry[j]}.",
        )
      if (r.missed[0] || r.missed[1])
        fail(
          `your lookup gave ${r.missed[0]} of ${r.flows} flows no backend with 5 backends, ${r.missed[1]} with 4 (maglev_backend() returned NULL)`,
          'Look the table up in maglev with the key svc->id, then the backend in backends with {svc->id, t->entry[j]}; every table position holds a slot below count.',
        )
      const shares = SYNTHETIC.backends.map((ip, i) => `${ip} ${r.shares[i]}`).join(', ')
      const fair = r.flows / SYNTHETIC.backends.length
      if (r.shares.some((n) => Math.abs(n - fair) > 0.2 * fair))
        fail(
          `with 5 backends, your lookup spread ${r.flows} flows ${shares} (each should get about ${fair})`,
          "Each backend owns about M/N of the table: the position must come from the flow's hash, j = hash % MAGLEV_M.",
        )
      const figure = `removing ${SYNTHETIC.removed} remapped ${r.remapped.toLocaleString('en')} of ${r.flows.toLocaleString('en')} flows through your lookup (${pct(r.remapped, r.flows)}; ${pct(r.onRemoved, r.flows)} were on it); ${side}`
      if (r.remapped > MAX_REMAP * r.flows)
        fail(
          `${figure}: more than ${MAX_REMAP * 100}%`,
          r.remapped > 0.5 * r.flows
            ? "That is hash % N's figure, not Maglev's: with hash % svc->count every flow is re-dealt when N changes. Index the table instead: the backend at {svc->id, t->entry[hash % MAGLEV_M]}."
            : undefined,
        )
      return `with 5 backends: ${shares}; ${figure}`
    },
  },
]
