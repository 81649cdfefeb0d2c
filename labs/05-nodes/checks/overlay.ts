import {CheckFailure, fail, type CheckDefinition} from '#checks/engine.js'
import {fdbEntries, link} from '#net/ip.js'
import {pingSized} from '#net/probes.js'
import type {NodeRecord} from '#nodes/cluster.js'
import type {CheckCluster, Lab5Context} from '../context.js'
import {crossNode} from './shared.js'

/** Run `body` with the run's underlay strict (dropping pod addresses), then open again. */
async function strictly<T>(c: CheckCluster, body: () => Promise<T>): Promise<T> {
  c.cluster.underlay.configure(true)
  try {
    return await body()
  } finally {
    c.cluster.underlay.configure(false)
  }
}

/** VXLAN's flood entry: frames for a MAC vxlan0 has not learnt (ARP broadcasts among them) go to its destinations. */
const FLOOD_MAC = '00:00:00:00:00:00'

const FDB_HINT =
  'For each other node: bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst "$underlay". append adds one more destination to the all-zeros entry (the same one again changes nothing); bridge fdb add finds the entry there after the first node (File exists), and replace keeps one destination'

/**
 * What is wrong with a node's flood list against the other nodes' underlay addresses: missing
 * nodes, its own address, addresses no node has, one address listed more than once.
 */
export function floodListProblems(flood: string[], self: NodeRecord, others: NodeRecord[]): string[] {
  const named = (n: NodeRecord) => `node ${n.name} (${n.underlayIp})`
  const times = (ip: string) => flood.filter((d) => d === ip).length
  const problems: string[] = []
  const missing = others.filter((n) => times(n.underlayIp) === 0)
  if (missing.length)
    problems.push(
      `no entry for ${missing.map(named).join(', ')}: ARP for its tunnel address, and any frame for a MAC vxlan0 has not learnt, never reaches it`,
    )
  if (times(self.underlayIp))
    problems.push(
      `an entry for node ${self.name}'s own address ${self.underlayIp}: each flooded frame comes back to it`,
    )
  const strangers = [...new Set(flood)].filter((d) => d !== self.underlayIp && !others.some((n) => n.underlayIp === d))
  if (strangers.length) problems.push(`entries for ${strangers.join(', ')}, which no node has`)
  const twice = [...new Set(flood)].filter((d) => times(d) > 1)
  if (twice.length)
    problems.push(
      `${twice.map((d) => `${d} ${times(d)} times`).join(', ')}: each flooded frame is sent to it that many times (the entries differ in via, port or vni)`,
    )
  return problems
}

/** Step overlay's checks (lab.yaml orders the run). */
export const OVERLAY_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.overlay',
    title:
      'with the underlay dropping pod addresses, pods still cross both ways (ping, 1 MiB over TCP), carried in VXLAN on UDP 8472',
    hint: 'A vxlan0 on each node (id 1, dstport 8472, local the underlay address, dev eth0), an fdb entry per other node, and routes to the other pod CIDRs via their tunnel addresses dev vxlan0.',
    run: async (ctx) => {
      const c = await ctx.ready()
      const before = c.cluster.underlay.counts()
      const wrong = await strictly(c, () => crossNode(c))
      const after = c.cluster.underlay.counts()
      const vxlan = after.vxlan - before.vxlan
      const dropped = after.dropped - before.dropped
      if (wrong.length)
        fail(
          `with the underlay strict, ${wrong.join('; ')}. Meanwhile the underlay dropped ${dropped} packet(s) addressed to pods and carried ${vxlan} VXLAN packet(s)${vxlan === 0n ? ': nothing went through a tunnel' : ''}`,
        )
      if (vxlan === 0n)
        fail(
          `traffic crossed, but the underlay counted no VXLAN packet (UDP 8472): is another tunnel on another port carrying it?`,
          'dstport 8472 on vxlan0',
        )
      return `both ways with the underlay strict: ${vxlan} VXLAN packets on the underlay, ${dropped} pod-addressed packets dropped there`
    },
  },
  {
    id: 'nodes.mtu',
    title: "each pod's eth0 has MTU 1450, and a 1400-byte ping with Don't Fragment crosses both ways",
    hint: '"mtu": 1450 in 10-ebpfcni.conf: the plugin puts the config\'s mtu on both veth ends (VXLAN takes 50 of the underlay\'s 1500 bytes).',
    run: async (ctx) => {
      const c = await ctx.ready()
      const wrong: string[] = []
      for (const p of [c.podA, c.podB]) {
        const l = await link(p.ifname, p.netnsName)
        if (l?.mtu !== 1450)
          wrong.push(
            `the pod on node ${p.node}: eth0 has MTU ${l?.mtu ?? '?'}, expected 1450 (1500 minus VXLAN's 50 bytes)`,
          )
      }
      const sized = await strictly(c, async () => [
        await pingSized(c.podA.netnsPath, c.podB.ip, 1400),
        await pingSized(c.podB.netnsPath, c.podA.ip, 1400),
      ])
      sized.forEach((r, i) => {
        if (!r.ok)
          wrong.push(`${i === 0 ? `node ${c.a.name} → ${c.b.name}` : `node ${c.b.name} → ${c.a.name}`}: ${r.detail}`)
      })
      if (wrong.length) fail(wrong.join('; '))
      return "both pods at MTU 1450; 1400-byte payloads with Don't Fragment cross both ways through the tunnel"
    },
  },
  {
    id: 'nodes.vxlan-fdb',
    title:
      'a node that joins is flooded to as well: the next ADD on node a leaves vxlan0 one all-zeros fdb destination per other node, none for itself',
    hint: FDB_HINT,
    run: async (ctx) => {
      await ctx.ready()
      try {
        return await ctx.withJoinedNode(async (c) => {
          const others = c.cluster.list().filter((n) => n.name !== c.a.name)
          if (!(await link('vxlan0', c.a.netnsName)))
            fail(`node ${c.a.name} has no vxlan0 after a pod's ADD there: there is no tunnel to send to other nodes`)
          const flood = (await fdbEntries('vxlan0', c.a.netnsName))
            .filter((e) => e.mac === FLOOD_MAC && e.dst)
            .map((e) => e.dst!)
          const problems = floodListProblems(flood, c.a, others)
          if (problems.length)
            fail(
              `node ${c.joined.name} (${c.joined.underlayIp}) joined, then a pod's ADD on node ${c.a.name} left vxlan0 flooding to ${flood.join(', ') || 'nothing'}: ${problems.join('; ')}`,
            )
          return `after node ${c.joined.name} joined, node ${c.a.name}'s next ADD left vxlan0 flooding to each other node once: ${flood.join(', ')}`
        })
      } catch (err) {
        if (!(err instanceof CheckFailure) || !/^a pod on node /.test(err.message)) throw err
        const exists = /exists/i.test(err.message)
        fail(
          `node c joined; the ADD of a pod on node a after it failed: ${err.message.replace(/^a pod on node \w+: /, '')}${exists ? `: vxlan0's all-zeros fdb entry is one entry, made for node b by the first ADD; a command that makes it again for node c finds it there (bridge fdb add does)` : ''}`,
          exists ? FDB_HINT : undefined,
        )
      }
    },
  },
]
