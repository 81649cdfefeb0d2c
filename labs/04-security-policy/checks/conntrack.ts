import {briefly, fail, CheckFailure, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {failIfIsolationIgnored, PORT_RULE_MISSED} from './networkpolicy.js'
import {ipv4Tcp, ipv4Udp} from '#bpf/frames.js'
import {sendUdp} from '#net/probes.js'
import {ipv4Key} from '#bpf/counters.js'
import {
  MAP_TYPE,
  isPerCpu,
  mapInfo,
  mapLookup,
  mapTypeName,
  mapUpdate,
  perCpuSlots,
  valueBufferSize,
  type MapInfo,
} from '#bpf/map-ops.js'
import {objGet} from '#bpf/object.js'
import {closeFd} from '#bpf/ffi.js'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {type PolicySpec} from '#policy/networkpolicy.js'
import {type PolicyPod} from '#policy/resolve.js'
import {
  http,
  clientAndServer,
  Expect,
  requireMap,
  expectPath,
  withPretendPods,
  isolate,
  arrivedDuring,
  linkLocalPair,
  UDP_PROBES,
  failIfXdpDropInTc,
  failIfIsolatedBeforeRules,
  connectUnlessDropped,
} from './shared.js'

/** The pinned conntrack map's type and size, when it is pinned. */
function conntrackInfo(ctx: Lab4Context): MapInfo | undefined {
  const pin = join(ctx.pinned.pinDir(), 'conntrack')
  if (!existsSync(pin)) return undefined
  const fd = objGet(pin)
  try {
    return mapInfo(fd)
  } finally {
    closeFd(fd)
  }
}

const IPPROTO_TCP = 6
const BPF_EXIST = 2

/** struct ct_key {__u32 saddr, daddr; __u16 sport, dport; __u8 proto, pad[3]}, addresses and ports as in the packet. */
function ctKey(saddr: string, daddr: string, sport: number, dport: number, proto: number): Buffer {
  const k = Buffer.alloc(16)
  ipv4Key(saddr).copy(k, 0)
  ipv4Key(daddr).copy(k, 4)
  k.writeUInt16BE(sport, 8)
  k.writeUInt16BE(dport, 10)
  k[12] = proto
  return k
}

/**
 * Whether xdp_prog writes a flow conntrack already holds: the flow's value is set to a mark, the
 * flow's packet goes through xdp_prog (a test run over the pinned maps), and the value is read
 * back. undefined: it kept the mark, or the flow is not there under this key (another key layout:
 * the frame checks judge that).
 */
function rewritesKnownFlow(ctx: Lab4Context, key: Buffer, frame: Buffer): {marked: string; after: string} | undefined {
  const pin = join(ctx.pinned.pinDir(), 'conntrack')
  if (!existsSync(pin)) return undefined
  const fd = objGet(pin)
  try {
    const info = mapInfo(fd)
    if (info.keySize !== key.length) return undefined
    const size = valueBufferSize(info)
    if (!mapLookup(fd, key, size)) return undefined
    // No value a program writes for "seen" (1, a count, a timestamp's low bytes) looks like this.
    const mark = Buffer.alloc(size, 0xa5)
    mapUpdate(fd, key, mark, BPF_EXIST)
    ctx.policy.path([frame])
    const after = mapLookup(fd, key, size)
    if (!after || after.equals(mark)) return undefined
    // A per-CPU value: the slot of the CPU the test run wrote on.
    const slots = isPerCpu(info.type) ? perCpuSlots(after, info) : [after.subarray(0, info.valueSize)]
    const markSlot = mark.subarray(0, info.valueSize)
    const changed = slots.find((v) => !v.equals(markSlot)) ?? slots[0]
    return {
      marked: `0x${markSlot.toString('hex')}`,
      after: changed.length === 4 ? String(changed.readUInt32LE(0)) : `0x${changed.toString('hex')}`,
    }
  } finally {
    closeFd(fd)
  }
}

/**
 * `body`'s failure that names no cause, when to_pod ignores `isolated`, follows from that: the
 * isolation evidence (failIfIsolationIgnored) fails first, with `brief`; otherwise `body`'s failure.
 */
async function unlessIsolationIgnored(ctx: Lab4Context, brief: string, body: () => void): Promise<void> {
  try {
    body()
  } catch (err) {
    if (err instanceof CheckFailure && !err.established) await failIfIsolationIgnored(ctx, err.message, brief)
    throw err
  }
}

/**
 * Step conntrack's checks: replies come back through the flow the pod opened, and nothing else
 * does. On the core path xdp_prog's conntrack is ready-made; these checks prove it with the
 * learner's to_pod (lab.yaml runs them in step networkpolicy too).
 */
export const CONNTRACK_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  {
    id: 'policy.conntrack',
    cost: 'cheap',
    title: 'replies come back through conntrack: an isolated client gets its replies, and nothing else from the server',
    hint: 'In xdp_prog record the flow the pod sends ({saddr, daddr, sport, dport, proto} in conntrack); in to_pod pass a packet whose reversed tuple is there, before any rule.',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await requireMap(
        ctx,
        ['conntrack'],
        'conntrack map',
        'declare a pinned BPF_MAP_TYPE_LRU_HASH named conntrack: key struct ct_key, value __u32',
      )
      const pods: PolicyPod[] = [
        {name: 'ct-client', ip: '10.250.3.1', labels: {role: 'client'}},
        {name: 'ct-server', ip: '10.250.3.2', labels: {role: 'server'}},
      ]
      // The server admits the client on TCP 80; a second policy isolates the client entirely.
      const web: PolicySpec = {
        name: 'ct-server-tcp-80',
        podSelector: {role: 'server'},
        ingress: [{from: [{role: 'client'}], ports: [{protocol: 'TCP', port: 80}]}],
      }
      return withPretendPods(ctx, pods, [web, isolate('ct-client-isolated', {role: 'client'})], async () => {
        const [c, srv] = pods.map((p) => p.ip)
        const cases: Array<[string, Buffer, Expect]> = [
          [`client :42000 → server TCP 80 (opens the flow)`, ipv4Tcp(c, srv, 80, 42000), 'pass'],
          [`server :80 → client :42000 (the reply)`, ipv4Tcp(srv, c, 42000, 80, 'ack'), 'pass'],
          [`server :80 → client :42001 (no flow the client opened)`, ipv4Tcp(srv, c, 42001, 80, 'ack'), 'drop'],
          [`server → client UDP 9999`, ipv4Udp(srv, c, 'x', 9999, 80), 'drop'],
          [`server → client TCP 22`, ipv4Tcp(srv, c, 22, 42000), 'drop'],
        ]
        // A request the policy allows, dropped: the port rule missed, and conntrack never came into it.
        const [opening] = ctx.policy.path([cases[0][1]])
        if (opening.dropped) {
          const what = `the client's request to the server's TCP 80, which the policy allows, got ${opening.how}`
          await briefly("the client's request, which the policy allows, was dropped", () =>
            failIfIsolatedBeforeRules(ctx, `${what}, so the reply path (conntrack) was never reached`),
          )
          fail(
            `${what}: the port rule did not match, so the reply path (conntrack) was never reached`,
            'fix the port rule first (policy.ports shows the key bytes the map holds)',
            PORT_RULE_MISSED,
            "the client's request to TCP 80 was dropped: the port rule did not match, so the reply path (conntrack) was never reached",
          )
        }
        // Whose part failed: xdp_prog recording the client's flow, or to_pod asking for it.
        const flows = ctx.policy.mapKeys('conntrack').filter((k) => k.includes(ipv4Key(c)) && k.includes(ipv4Key(srv)))
        const recorded = flows.length > 0
        // struct ct_key {saddr, daddr, sport, dport, proto, pad}: a flow kept without its ports and
        // protocol makes any packet from the peer a "reply".
        const portless = flows.some((k) => k.length >= 13 && k.subarray(8, 13).every((b) => b === 0))
        await briefly('crafted frames to_pod must drop got 1 (XDP_DROP) from it and went on', () =>
          unlessIsolationIgnored(
            ctx,
            'replies aside, crafted frames from the server passed to_pod into the isolated client',
            () =>
              expectPath(
                ctx,
                cases,
                portless
                  ? `conntrack holds the client's flow without ports or protocol (${flows[0].toString('hex')}): then any packet from the server counts as a reply. Key conntrack by {saddr, daddr, sport, dport, proto} in xdp_prog and in to_pod alike`
                  : recorded
                    ? "the client's flow is in conntrack, but to_pod did not find it for the reply: look up the reversed tuple (ct_is_reply(ip, data_end) does) first in to_pod, before any rule, and pass it with tc_pass(skb, REASON_CT_REPLY)"
                    : "xdp_prog recorded no flow for the client's request: ct_record(ip, data_end) must run in xdp_prog for every packet the pod sends, before it returns (ready-made in the starter; the conntrack step writes it by hand)",
              ),
          ),
        )
        // The order of to_pod's decisions: a reply passes whatever the rules say. The frames above
        // cannot show it (no rule matches server → client there); a DENY rule for server → client
        // does. to_pod alone: xdp_prog would drop the pair first, as it does not for the node.
        const reply = ipv4Tcp(srv, c, 42000, 80, 'ack')
        const judged = await withPretendPods(ctx, [], [], () => ctx.policy.toPodOnly(reply), [
          {from: 'ct-server', to: 'ct-client', verdict: 'deny'},
        ])
        if (judged.dropped)
          fail(
            `server :80 → client :42000, the reply to the flow the client opened (it passed to_pod above), got ${judged.how} once a DENY rule for server → client was in the policy map: the reply was judged by the rules before ct_is_reply`,
            'in to_pod, ask ct_is_reply(ip, data_end) first, before the pair and port rules: a reply to a flow the pod opened passes whatever the rules say (tc_pass(skb, REASON_CT_REPLY))',
          )
        // The step's rule a few frames cannot show: a full HASH refuses new flows, an LRU evicts the oldest.
        const info = conntrackInfo(ctx)
        if (info && info.type !== MAP_TYPE.LRU_HASH)
          fail(
            `conntrack is a ${mapTypeName(info.type)} of ${info.maxEntries} entries: once full, bpf_map_update_elem fails for every new flow, which is then never recorded, and its replies are dropped`,
            'declare conntrack as BPF_MAP_TYPE_LRU_HASH (65536 entries): when full, it evicts the least recently used flow instead of refusing the new one',
          )
        // The step's rule the verdicts above do not show: the server's reply went through xdp_prog at
        // the server, and an answer to a flow the peer opened opens none. Recorded, it makes the
        // client's later packets "replies" at the server, passed without the server's rules.
        const answered = ctKey(srv, c, 80, 42000, IPPROTO_TCP).subarray(0, 13)
        if (ctx.policy.mapKeys('conntrack').some((k) => k.length >= 13 && k.subarray(0, 13).equals(answered)))
          fail(
            `the server's reply (TCP :80 → client :42000), which answers the flow the client opened, was recorded in conntrack by xdp_prog at the server as a flow the server opened: the client's later packets then pass to_pod at the server as replies, not by the server's rules, and observe names them "reply to a flow the pod opened"`,
            'in xdp_prog, record nothing for a packet whose reversed tuple conntrack holds: it answers a flow the peer opened. if (!bpf_map_lookup_elem(&conntrack, &back) && !bpf_map_lookup_elem(&conntrack, &flow)) write the flow, with back = the reversed tuple',
          )
        // The step's rule no frame's fate shows: look the flow up first and write it only when it is
        // new (BPF_NOEXIST). Proven on the map: the client's flow, its value marked, keeps the mark
        // while the client's next packet goes through xdp_prog; a write on every packet replaces it.
        const rewrite = rewritesKnownFlow(ctx, ctKey(c, srv, 42000, 80, IPPROTO_TCP), cases[0][1])
        if (rewrite)
          fail(
            `the client's flow (TCP :42000 → 80) was in conntrack, its value set by the check to ${rewrite.marked}; its next packet through xdp_prog replaced that value with ${rewrite.after}: xdp_prog writes a flow conntrack already holds, for every packet the pod sends`,
            'look the flow up first and write it only when the lookup misses, with BPF_NOEXIST: if (!bpf_map_lookup_elem(&conntrack, &flow)) bpf_map_update_elem(&conntrack, &flow, &seen, BPF_NOEXIST). An update costs several times a lookup (npm run bench:datapath), and BPF_ANY replaces what the flow holds',
          )
        return `${cases.length} frames: the reply to the client's flow passed and opened no flow of its own; the server reached the isolated client on no other port; a flow already recorded was not written again`
      })
    },
  },
  {
    id: 'policy.isolated-closed',
    title: 'an isolated pod that talks to a server gets its replies, and nothing else from it: no UDP, TCP or IPv6',
    hint: 'Replies are admitted by conntrack only (the reversed tuple of a flow the pod opened), never by a rule in the reverse direction; to_pod drops IPv6.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      // The probe can see arrivals: with no policy, httpbin's datagrams reach sleep.
      const open = await arrivedDuring(b, () => sendUdp(a.netnsPath, b.ip, 9999, UDP_PROBES))
      if (open.udp < UDP_PROBES)
        throw new CheckSkip(
          `needs UDP from httpbin to reach sleep without a policy (${open.udp} of ${UDP_PROBES} arrived)`,
        )
      svc.store.putPolicy({
        name: 'httpbin-tcp-80-from-sleep',
        podSelector: {app: 'httpbin'},
        ingress: [{from: [{app: 'sleep'}], ports: [{protocol: 'TCP', port: 80}]}],
      })
      svc.store.putPolicy(isolate('sleep-isolated', {app: 'sleep'}))
      await svc.sync()
      const web = await http(b, a, true, ctx)
      if (!web.ok) {
        // The request dropped on its way in is the port rule's miss, not the replies'.
        const requestDropped = web.flows?.some((f) => f.src.ip === b.ip && f.dst.ip === a.ip && f.verdict === 'DROPPED')
        await briefly('sleep (isolated) could not reach httpbin on TCP 80, which the policy allows', () =>
          failIfIsolatedBeforeRules(ctx, `sleep ${b.ip} (isolated) → httpbin ${a.ip} TCP 80: ${web.detail}`),
        )
        if (requestDropped)
          fail(
            `sleep ${b.ip} (isolated) → httpbin ${a.ip} TCP 80: ${web.detail}`,
            "sleep's request itself was dropped on its way to httpbin, which the policy allows on TCP 80: the port rule must pass it (policy.ports); the replies never came into it",
            PORT_RULE_MISSED,
            "sleep's request to httpbin, which a port rule allows, was dropped: the replies never came into it",
          )
        fail(
          `sleep ${b.ip} (isolated) → httpbin ${a.ip} TCP 80: ${web.detail}`,
          "sleep opened the connection: httpbin's replies must pass to_pod at sleep through conntrack",
        )
      }
      const udp = await arrivedDuring(b, () => sendUdp(a.netnsPath, b.ip, 9999, UDP_PROBES))
      if (udp.udp > 0) {
        const what = `${udp.udp} of ${UDP_PROBES} UDP datagrams from httpbin ${a.ip} reached the isolated sleep ${b.ip} on port 9999`
        await briefly(what, () => failIfXdpDropInTc(ctx, what, a.ip, b.ip))
        await failIfIsolationIgnored(ctx, what, what)
        fail(
          what,
          'a rule (or a reverse ALLOW) admits httpbin → sleep on every port: only replies to flows sleep opened may pass',
        )
      }
      // A SYN proven dropped (its drop reported, and to_pod's verdict on it) ends the wait at once.
      const tcp = await arrivedDuring(b, () => connectUnlessDropped(ctx, a, b, 8080, 1))
      if (tcp.tcp > 0) {
        const what = `a TCP SYN from httpbin ${a.ip} reached the isolated sleep ${b.ip} on port 8080`
        await briefly(what, () => failIfXdpDropInTc(ctx, what, a.ip, b.ip))
        await failIfIsolationIgnored(ctx, what, what)
        fail(what, 'only replies to flows sleep opened may pass to_pod')
      }
      let v6 = 'no IPv6 address could be given to httpbin and sleep'
      // Addresses of the check's own, usable at once: the pods' own fe80:: wait out DAD for 1-2 s.
      const sleepV6 = await linkLocalPair(a, b)
      if (sleepV6) {
        const six = await arrivedDuring(b, () => sendUdp(a.netnsPath, `${sleepV6}%eth0`, 9999, UDP_PROBES))
        if (six.udp > 0)
          fail(
            `${six.udp} of ${UDP_PROBES} IPv6 datagrams from httpbin reached the isolated sleep at ${sleepV6}`,
            'to_pod must drop what is not IPv4: the rules cannot see IPv6',
          )
        v6 = `IPv6 to ${sleepV6} dropped`
      }
      return `sleep → httpbin 200 (replies via conntrack); httpbin → sleep: UDP 9999 and TCP 8080 dropped; ${v6}`
    },
  },
]
