import {fail, CheckFailure, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import {routes} from '#net/ip.js'
import type {CheckCluster, Lab5Context} from '../context.js'
import {pingBoth, transferBoth, pingPair, MIB} from './shared.js'

/**
 * nodes.ping's result for the run's cluster (one per run): nodes.transfer and nodes.second-pod build on
 * it, rather than wait out a ping that got no reply (3 s) again, and say what it was.
 */
const pingedBoth = (ctx: Lab5Context, c: CheckCluster): Promise<string[]> =>
  ctx.pods.once('nodes.ping', () => pingBoth(c))

/** Step routes' checks (lab.yaml orders the run). */
export const ROUTES_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.forwarding',
    title: 'each node forwards: net.ipv4.ip_forward is 1 in its network namespace once a pod was added there',
    hint: "In node_agent: sysctl -qw net.ipv4.ip_forward=1 || return 1 (the plugin runs in the node: the sysctl is the node's).",
    run: async (ctx) => {
      const c = await ctx.cluster()
      const off: string[] = []
      for (const n of [c.a, c.b]) {
        const v = await c.cluster.sysctl(n, 'net.ipv4.ip_forward')
        if (v !== '1') off.push(`node ${n.name}: net.ipv4.ip_forward is ${v ?? 'unreadable'}`)
      }
      if (off.length)
        fail(
          `${off.join('; ')}. A node that does not forward drops what its pods send to other nodes (and what other nodes send its pods); ebpfcni node add turns it off on each node (a new network namespace copies the host's setting), so your agent must turn it on`,
        )
      return "both nodes forward (net.ipv4.ip_forward = 1 in each node's namespace)"
    },
  },
  {
    id: 'nodes.routes',
    title: "each node has a route to the other node's pod CIDR",
    hint: 'In node_agent, for each line of other_nodes: ip route replace "$cidr" via "$underlay" || return 1',
    run: async (ctx) => {
      const c = await ctx.ready()
      const missing: string[] = []
      for (const [n, other] of [
        [c.a, c.b],
        [c.b, c.a],
      ] as const) {
        const table = await routes(n.netnsName)
        const r = table.find((x) => x.dst === other.podCidr)
        if (!r)
          missing.push(
            `node ${n.name} has no route to ${other.podCidr} (node ${other.name}'s pods); its routes: ${table.map((x) => `${x.dst}${x.gateway ? ` via ${x.gateway}` : ''} dev ${x.dev}`).join(', ')}`,
          )
      }
      if (missing.length) fail(missing.join('; '))
      return `node ${c.a.name} → ${c.b.podCidr} and node ${c.b.name} → ${c.a.podCidr}`
    },
  },
  {
    id: 'nodes.ping',
    title: 'a pod on one node pings a pod on the other, both ways',
    hint: "Forwarding on both nodes, and a route on each to the other's pod CIDR: the reply needs the way back.",
    run: async (ctx) => {
      const c = await ctx.ready()
      const wrong = await pingedBoth(ctx, c)
      if (wrong.length) fail(wrong.join('; '))
      return `${c.podA.ip} (node ${c.a.name}) ⇄ ${c.podB.ip} (node ${c.b.name})`
    },
  },
  {
    id: 'nodes.transfer',
    title: '1 MiB over TCP crosses between the nodes, both ways (hundreds of full-sized packets)',
    hint: "If ping works and this does not, look at MTUs: ip -n NODE link, and the pods' eth0.",
    run: async (ctx) => {
      const c = await ctx.ready()
      const failed = await pingedBoth(ctx, c)
      if (failed.length) throw new CheckSkip(`needs ping to cross first (nodes.ping: ${failed[0]})`)
      const wrong = await transferBoth(c)
      if (wrong.length) fail(wrong.join('; '))
      return `${MIB} bytes each way between node ${c.a.name}'s and node ${c.b.name}'s pods`
    },
  },
  {
    id: 'nodes.second-pod',
    title:
      "a second pod on a node: its ADD succeeds (the node agent runs again) and it pings the other node's pod, both ways",
    hint: 'ADD runs the node agent for every pod, so each command must work when its object is there already: ip route replace, never add; ip link add vxlan0 … || ip link show vxlan0; tc filter replace, never add.',
    run: async (ctx) => {
      const first = await ctx.ready()
      let c: Awaited<ReturnType<Lab5Context['sameNode']>>
      try {
        c = await ctx.sameNode()
      } catch (err) {
        if (!(err instanceof CheckFailure)) throw err
        const exists = /exists/i.test(err.message)
        fail(
          `node ${first.a.name} already had a pod (${first.podA.ip}); the ADD of a second pod there failed: ${err.message}${exists ? ': a command that made something once per node made it again and found it there' : ''}`,
          exists
            ? 'ADD runs for every pod on a node: what the node agent makes once (a route, vxlan0, an fdb entry, a tc filter on a shared device) is there from the first pod on. ip route replace, not add; ip link add … || ip link show …; tc filter replace.'
            : undefined,
        )
      }
      // Its ADD worked; whether it crosses says something only where the first pod's ping did.
      const firstPings = await pingedBoth(ctx, first)
      if (firstPings.length)
        throw new CheckSkip(
          `the second pod's ADD on node ${c.a.name} succeeded (${c.podA2.ip}); its ping needs the first pod's to cross first (nodes.ping: ${firstPings[0]})`,
        )
      const wrong = await pingPair({pod: c.podA2, node: c.a.name}, {pod: c.podB, node: c.b.name})
      if (wrong.length)
        fail(
          `the second pod on node ${c.a.name}: ${wrong.join('; ')} (the first, ${c.podA.ip}, had crossed)`,
          "the second ADD on a node must leave the node's routes to the other nodes as the first made them",
        )
      return `a second pod on node ${c.a.name} (${c.podA2.ip}) was added and pings ${c.podB.ip} on node ${c.b.name}, both ways`
    },
  },
]
