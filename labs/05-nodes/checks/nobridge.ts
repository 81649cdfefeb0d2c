import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import {links} from '#net/ip.js'
import {ping, tcpConnect, watchedProbe, type RequestFate} from '#net/probes.js'
import {handshakeDrops} from '#observe/handshake-drops.js'
import {ipv4Tcp} from '#bpf/frames.js'
import {objGet, testRun} from '#bpf/object.js'
import {TC_ACT} from '#bpf/attach.js'
import type {EventsSoFar} from '#observe/flow-feed.js'
import {closeFd} from '#bpf/ffi.js'
import {mapDelete, mapUpdate} from '#bpf/map-ops.js'
import {ipv4Key} from '#bpf/counters.js'
import {u32} from '#policy/maps.js'
import {VERDICT} from '#policy/resolve.js'
import type {Lab5Context} from '../context.js'
import {
  MIB,
  inNode,
  talk,
  hostVeth,
  forwarded,
  withDropAll,
  FORWARDED_AT_MOST,
  pingPair,
  nodeFlowsDuring,
  quoteNodeFlows,
} from './shared.js'

// Step 3: the node's pods without a bridge, handed over with bpf_redirect_peer. Each check proves
// its own packets' fate: the pods talk; a TC_ACT_SHOT program on the destination veths' egress
// (ebpfcni's bpf/tool/drop_all.bpf.c) does not stop them and drops no IPv4 packet;
// the node's IPv4 forwarding counter does not move while they talk; with a lab 4 deny rule in
// the node's policy map, one pod cannot open a connection to the other, and can once it is gone.
// What has no endpoints entry still goes on: a pod pings a pod of the other node, and its own
// node, both ways (each ping's reply is its own packets' fate; the node's flow events say why not).

export const NOBRIDGE_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.no-bridge',
    title: 'no bridge on the node, and two of its pods ping each other and move 1 MiB over TCP',
    hint: '"noBridge": true in 10-ebpfcni.conf, then wire_pod_nobridge: the /32, the 169.254.1.1 route and neighbour, the node\'s /32 route, endpoint_add, attach_from_pod.',
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const bridges = (await links(c.a.netnsName)).filter((l) => l.linkinfo?.info_kind === 'bridge')
      if (bridges.length)
        fail(
          `node ${c.a.name} has a bridge (${bridges.map((b) => b.ifname).join(', ')}): with "noBridge": true the plugin must wire pods without one`,
        )
      const wrong = await talk({pod: c.podA}, {pod: c.podA2})
      if (wrong.length) fail(`between the two pods of node ${c.a.name}: ${wrong.join('; ')}`)
      return `no bridge on node ${c.a.name}; ${c.podA.ip} ⇄ ${c.podA2.ip}: ping and ${MIB} bytes each way`
    },
  },
  {
    id: 'nodes.redirect-peer',
    title: "with TC_ACT_SHOT on the destination veths' egress, the pods still talk: bpf_redirect_peer skipped it",
    hint: 'pod_packet must end in return bpf_redirect_peer(ep->ifindex, 0) for a pod of the node; bpf_redirect (no _peer) sends the packet out of the host veth, through its egress.',
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const pair = () => talk({pod: c.podA}, {pod: c.podA2})
      if ((await pair()).length) throw new CheckSkip('needs the two pods to talk first (nodes.no-bridge)')
      const veths = [await hostVeth(c.a, c.podA), await hostVeth(c.a, c.podA2)]
      const {result: wrong, droppedIpv4} = await withDropAll(
        ctx,
        c,
        veths.map((veth) => ({node: c.a, veth})),
        pair,
      )
      if (wrong.length)
        fail(
          `with TC_ACT_SHOT on the egress of ${veths.join(' and ')}: ${wrong[0]}; drop_all dropped ${droppedIpv4} IPv4 packets there: they came out of the host veth (the node's stack, or bpf_redirect), not through bpf_redirect_peer to its peer`,
        )
      if (droppedIpv4 > 0n)
        fail(
          `drop_all on the egress of ${veths.join(' and ')} dropped ${droppedIpv4} IPv4 packets while the pods talked`,
        )
      return `drop_all on the egress of ${veths.join(' and ')} saw none of the pods' IPv4 packets, and they still talked`
    },
  },
  {
    id: 'nodes.deny-at-source',
    title: "lab 4's deny still holds without the bridge: from_pod drops what a rule denies, before it redirects",
    hint: "First thing in pod_packet, once the headers are parsed: if (denied(ip)) return TC_ACT_SHOT; bpf_redirect_peer skips the destination host veth, so a program there (lab 4's to_pod) never sees the packet.",
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const [from, to] = [c.podA, c.podA2]
      // A pod-to-pod connect on one node takes well under a millisecond, a thousand times less
      // than this on a slow VM; the one after the rule is removed shows the path is that fast now.
      const connect = () => tcpConnect(from.netnsPath, to.ip, 80, 1.5)
      if (!(await connect()).ok)
        throw new CheckSkip(`needs ${from.ip} to connect to ${to.ip}:80 first (nodes.no-bridge)`)
      const pin = join(c.cluster.nodePinDir(c.a), 'policy')
      if (!existsSync(pin))
        fail(
          `node ${c.a.name} has no pinned map "policy" (${pin}): forward.bpf.c needs the ready-made policy map of the starter`,
        )
      const fd = objGet(pin)
      // Lab 4's ip-pair rule, as `policy deny` writes it: struct ip_pair {saddr, daddr} -> POLICY_DENY.
      const key = Buffer.concat([ipv4Key(from.ip), ipv4Key(to.ip)])
      try {
        mapUpdate(fd, key, u32(VERDICT.deny))
        // When node a's from_pod reports dropping this connection's SYN and returns TC_ACT_SHOT for
        // that very SYN, its fate is proven without waiting; otherwise (no report, no ring, or a
        // report the program's verdict does not bear out) the full wait decides.
        const pin = join(c.cluster.nodePinDir(c.a), 'from_pod')
        const {result: denied} = await nodeFlowsDuring(c, c.a, (soFar) =>
          watchedProbe(
            (signal) => tcpConnect(from.netnsPath, to.ip, 80, 1.5, signal),
            () => provenFromPodDrop(pin, soFar, from, to, 80),
          ),
        )
        mapDelete(fd, key)
        const after = await connect()
        if (denied.ok)
          fail(
            `with a deny rule for ${from.ip} → ${to.ip} in node ${c.a.name}'s policy map, a TCP connection from ${from.ip} to ${to.ip}:80 was still made: nothing on its way asked the rule`,
          )
        if (!after.ok)
          fail(
            `${from.ip} could not connect to ${to.ip}:80 even after the deny rule was removed (${after.detail}): from_pod drops more than the rule says`,
          )
        return `with a deny rule for ${from.ip} → ${to.ip}, TCP to ${to.ip}:80 failed; with it removed, it connected`
      } finally {
        mapDelete(fd, key)
        closeFd(fd)
      }
    },
  },
  {
    id: 'nodes.stack-skipped',
    title: "the node's IPv4 forwarding counter stays flat while 1 MiB crosses between its pods",
    hint: "A packet from_pod returns TC_ACT_OK for goes up the node's stack and is forwarded (ForwDatagrams grows): look the destination up in endpoints and redirect it.",
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const before = await forwarded(c.a)
      const wrong = await talk({pod: c.podA}, {pod: c.podA2})
      const n = (await forwarded(c.a)) - before
      if (wrong.length) throw new CheckSkip(`needs the two pods to talk (nodes.no-bridge: ${wrong[0]})`)
      if (n > FORWARDED_AT_MOST) {
        // Whether from_pod was there to redirect them at all: a host veth with no filter on its ingress.
        const bare: string[] = []
        for (const pod of [c.podA, c.podA2]) {
          const veth = await hostVeth(c.a, pod)
          const shown = await inNode(c.a, ['tc', 'filter', 'show', 'dev', veth, 'ingress'])
          if (!/\bbpf\b/.test(shown.stdout)) bare.push(veth)
        }
        fail(
          `node ${c.a.name} forwarded ${n} IPv4 datagrams (/proc/net/snmp ForwDatagrams) while ${MIB} bytes crossed each way between ${c.podA.ip} and ${c.podA2.ip}: they went through its IP stack, not bpf_redirect_peer${bare.length ? `; no BPF filter on the ingress of ${bare.join(' and ')}: from_pod is not attached` : ''}`,
          bare.length
            ? 'wire_pod_nobridge must end with endpoint_add "$addr" && attach_from_pod: without from_pod on the host veth\'s TC ingress, nothing redirects the pod\'s packets'
            : undefined,
        )
      }
      return `node ${c.a.name} forwarded ${n} IPv4 datagrams while ${MIB} bytes crossed each way between its pods`
    },
  },
  {
    id: 'nodes.nobridge-cross',
    title:
      "without a bridge, a pod on node a and one on node b still ping each other, both ways: what has no endpoints entry goes to the node's stack",
    hint: 'In pod_packet, a destination with no endpoints entry is another node\'s pod (or the node itself): return to_other_node(skb, ip), which returns TC_ACT_OK until step 4, so the node routes it as in step 2. And the node\'s ip route replace "$addr/32" dev "$hostveth" brings the replies back.',
    run: async (ctx) => {
      const c = await ctx.ready()
      const pings = () => pingPair({pod: c.podA, node: c.a.name}, {pod: c.podB, node: c.b.name})
      const wrong = await pings()
      if (wrong.length) {
        // Once more, reading what node a's programs decided (only on failure: it costs time).
        const {flows} = await nodeFlowsDuring(c, c.a, pings)
        const mine = (flows ?? []).filter((f) => f.src === c.podA.ip && f.dst === c.podB.ip)
        fail(
          `${wrong.join('; ')}. ${c.podB.ip} has no endpoints entry on node ${c.a.name}; node ${c.a.name}'s programs reported ${quoteNodeFlows(mine)}`,
        )
      }
      return `${c.podA.ip} (node ${c.a.name}) ⇄ ${c.podB.ip} (node ${c.b.name}) without a bridge`
    },
  },
  {
    id: 'nodes.pod-to-node',
    title: 'a pod and its own node ping each other, both ways: a packet for the node itself goes to its stack',
    hint: "A packet for the node itself has no endpoints entry and must reach the node's stack (TC_ACT_OK). In step 4, bpf_fib_lookup answers BPF_FIB_LKUP_RET_NOT_FWDED for the node's own addresses: redirect only on BPF_FIB_LKUP_RET_SUCCESS or _NO_NEIGH, anything else TC_ACT_OK.",
    run: async (ctx) => {
      const c = await ctx.ready()
      const [pod, node] = [c.podA, c.a]
      const pings = () => Promise.all([ping(pod.netnsPath, node.underlayIp, 1, 3), ping(node.netnsPath, pod.ip, 1, 3)])
      const result = await pings()
      const wrong = [
        ...(result[0].ok
          ? []
          : [`ping from the pod (${pod.ip}) to its node ${node.name} (${node.underlayIp}) got no reply`]),
        ...(result[1].ok ? [] : [`ping from node ${node.name} to its pod ${pod.ip} got no reply`]),
      ]
      if (wrong.length) {
        // Once more, reading what from_pod decided (only on failure: it costs time).
        const {flows} = await nodeFlowsDuring(c, node, pings)
        const mine = (flows ?? []).filter((f) => f.src === pod.ip && f.direction === 'from-pod')
        const neigh = mine.some((f) => f.reason.name === 'redirect-neigh')
        const dropped = mine.some((f) => f.verdict === 'DROPPED')
        fail(
          `${wrong.join('; ')}. The node's addresses have no endpoints entry; from_pod reported, for the pod's packets: ${quoteNodeFlows(mine)}`,
          neigh
            ? "from_pod sent packets for the node itself out with bpf_redirect_neigh: bpf_fib_lookup's result code was not honoured (for a local address it is BPF_FIB_LKUP_RET_NOT_FWDED, and fib.ifindex is still the pod's own veth). Redirect only on BPF_FIB_LKUP_RET_SUCCESS or _NO_NEIGH; anything else: TC_ACT_OK."
            : dropped
              ? "from_pod dropped packets for the node: no endpoints entry is no reason to drop. return to_other_node(skb, ip): TC_ACT_OK hands them to the node's stack."
              : undefined,
        )
      }
      return `${pod.ip} ⇄ node ${node.name} (${node.underlayIp}): ping both ways`
    },
  },
]

/**
 * A connection's SYN proven dropped at the source: from_pod reported DROPPED for that very SYN
 * (handshakeDrops: its own ephemeral port) and returns TC_ACT_SHOT for it in a test run over the
 * node's maps. undefined: not proven.
 */
async function provenFromPodDrop(
  pin: string,
  soFar: EventsSoFar,
  from: {netnsPath: string; ip: string},
  to: {ip: string},
  dport: number,
): Promise<RequestFate | undefined> {
  const mine = (await handshakeDrops(soFar, from, to, dport)).filter(
    (d) => d.request && d.event.direction === 'from-pod',
  )
  for (const {event, port} of mine) {
    const fd = objGet(pin)
    try {
      if (testRun(fd, ipv4Tcp(from.ip, to.ip, dport, port)).retval !== TC_ACT.SHOT) continue
    } finally {
      closeFd(fd)
    }
    return {
      fate: 'dropped',
      detail: `from_pod reported DROPPED (${event.reason.name}) for its SYN from port ${port}, and returns TC_ACT_SHOT for it`,
    }
  }
  return undefined
}
