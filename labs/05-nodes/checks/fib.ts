import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import type {CheckCluster, Lab5Context} from '../context.js'
import {MIB, crossNode, hostVeth, forwarded, withDropAll, FORWARDED_AT_MOST} from './shared.js'

// Step 4: across nodes in eBPF. Each check proves its own packets' fate: pods on the two nodes
// talk; with ebpfcni's drop_all (TC_ACT_SHOT) on the egress of both pods' host veths they still
// talk and it drops no IPv4 packet, so what arrived from the other node was handed to the pod
// with bpf_redirect_peer (from_node); and with that proven, neither node's IPv4 forwarding counter
// moves while 1 MiB crosses each way, so what left was sent on by from_pod, not the node's stack.

/** drop_all on the egress of each node's pod's host veth, around `body`. */
async function droppingAtHostVeths<T>(ctx: Lab5Context, c: CheckCluster, body: () => Promise<T>) {
  const veths = [
    {node: c.a, veth: await hostVeth(c.a, c.podA)},
    {node: c.b, veth: await hostVeth(c.b, c.podB)},
  ]
  const r = await withDropAll(ctx, c, veths, body)
  return {...r, where: veths.map((v) => `${v.veth} (node ${v.node.name})`).join(' and ')}
}

export const FIB_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.fib-cross',
    title: 'pods on two nodes without a bridge ping each other and move 1 MiB over TCP, both ways',
    hint: 'to_other_node: bpf_fib_lookup, then for BPF_FIB_LKUP_RET_SUCCESS or _NO_NEIGH return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0); anything else TC_ACT_OK (the node stack still routes it).',
    run: async (ctx) => {
      const c = await ctx.ready()
      const before = c.cluster.underlay.counts()
      const wrong = await crossNode(c)
      const after = c.cluster.underlay.counts()
      if (wrong.length) fail(wrong.join('; '))
      const vxlan = after.vxlan - before.vxlan
      const clear = after.podClear - before.podClear
      return `${MIB} bytes each way between node ${c.a.name}'s and node ${c.b.name}'s pods; the underlay carried ${vxlan} VXLAN packets and ${clear} pod-addressed ones in the clear`
    },
  },
  {
    id: 'nodes.from-node-peer',
    title:
      "with TC_ACT_SHOT on both pods' host veth egress, they still talk across nodes: what arrived was handed over with bpf_redirect_peer",
    hint: 'node_packet (what from_node runs): look ip->daddr up in endpoints, rewrite the MACs, return bpf_redirect_peer(ep->ifindex, 0); and attach_from_node in wire_pod_nobridge, so it runs on vxlan0 and eth0 ingress.',
    run: async (ctx) => {
      const c = await ctx.ready()
      const first = await crossNode(c)
      if (first.length) throw new CheckSkip(`needs the pods to talk across nodes first (nodes.fib-cross: ${first[0]})`)
      const {result: wrong, droppedIpv4, where} = await droppingAtHostVeths(ctx, c, () => crossNode(c))
      if (wrong.length || droppedIpv4 > 0n)
        fail(
          `with TC_ACT_SHOT on the egress of ${where}: ${wrong[0] ?? 'the pods still talked'}; drop_all dropped ${droppedIpv4} IPv4 packets there: what came from the other node reached its pod through the host veth (the node's stack routed it), not by bpf_redirect_peer from the device it arrived on`,
        )
      return `drop_all on the egress of ${where} saw none of the pods' IPv4 packets, and they still talked across nodes`
    },
  },
  {
    id: 'nodes.fib-stack-skipped',
    title: "neither node's IPv4 forwarding counter moves while 1 MiB crosses each way between them",
    hint: "A packet to_other_node returns TC_ACT_OK for goes up the node's stack, which forwards it (ForwDatagrams grows). Leave fib.tot_len 0: with the IP header's length, a 64 KiB TCP (GSO) packet gets BPF_FIB_LKUP_RET_FRAG_NEEDED.",
    run: async (ctx) => {
      const c = await ctx.ready()
      // With drop_all on the host veths, an arrival the stack routed would be dropped: what the
      // counters count can only be packets on their way out.
      const counted = await droppingAtHostVeths(ctx, c, async () => {
        const before = [await forwarded(c.a), await forwarded(c.b)]
        const wrong = await crossNode(c)
        const after = [await forwarded(c.a), await forwarded(c.b)]
        return {wrong, n: after.map((v, i) => v - before[i])}
      })
      const {wrong, n} = counted.result
      if (wrong.length || counted.droppedIpv4 > 0n)
        throw new CheckSkip(
          `needs the pods to talk across nodes with arrivals handed over by bpf_redirect_peer (nodes.from-node-peer: ${wrong[0] ?? `drop_all dropped ${counted.droppedIpv4} IPv4 packets`})`,
        )
      const busy = [c.a, c.b].map((node, i) => ({node, n: n[i]})).filter((x) => x.n > FORWARDED_AT_MOST)
      if (busy.length)
        fail(
          `${busy.map((x) => `node ${x.node.name} forwarded ${x.n}`).join(' and ')} IPv4 datagrams (/proc/net/snmp ForwDatagrams) while ${MIB} bytes crossed each way; arrivals were handed over by bpf_redirect_peer, so these left through the node's stack: from_pod passed them on (TC_ACT_OK) instead of sending them with bpf_redirect_neigh`,
        )
      return `while ${MIB} bytes crossed each way, node ${c.a.name} forwarded ${n[0]} and node ${c.b.name} ${n[1]} IPv4 datagrams`
    },
  },
]
