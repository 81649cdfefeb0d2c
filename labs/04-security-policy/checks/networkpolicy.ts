import {briefly, fail, CheckFailure, CheckSkip, type CheckCause, type CheckDefinition} from '#checks/engine.js'
import type {Lab4Context, PathVerdict} from '../context.js'
import {tcHookDestroy} from '#bpf/attach.js'
import {arp, ipv4LaterFragment, ipv4Tcp, ipv4Udp, ipv6Udp, withShortIhl} from '#bpf/frames.js'
import {httpGet} from '#net/probes.js'
import {attachments} from '#net/attachments.js'
import {hostPeer, xdpOff} from '#net/ip.js'
import {type PolicySpec} from '#policy/networkpolicy.js'
import {type PolicyPod} from '#policy/resolve.js'
import {
  originalPolicy,
  http,
  clientAndServer,
  Expect,
  requireMap,
  expectPath,
  withPretendPods,
  describePortKey,
  isolatedBeforeRules,
  failIsolatedBeforeRules,
  failIfIsolatedBeforeRules,
  flowsDuring,
  flowsBetween,
  quoteFlows,
  failIfXdpDropInTc,
  alongside,
  isolate,
  type SeenFlows,
} from './shared.js'

const ISOLATION_IGNORED_HINT =
  'to_pod must drop a packet no rule matched when its destination is in isolated (last: tc_drop(skb, REASON_ISOLATED))'

/** to_pod never drops for `isolated`: every check that probes a pod a policy selects fails from it. */
const ISOLATION_IGNORED: CheckCause = {
  key: 'to-pod-ignores-isolated',
  summary: `to_pod passes what no rule admits to a pod a policy selects; ${ISOLATION_IGNORED_HINT}`,
}

/** A request a port rule allows, dropped at to_pod: the checks after policy.ports that need it fail from it. */
export const PORT_RULE_MISSED: CheckCause = {
  key: 'port-rule-missed',
  summary:
    "to_pod's lookup in policy_ports misses the key user space wrote: build struct port_rule_key whole (pad 0), with dport as parse_ports gives it (network order)",
}

/**
 * The port key clang says is never used: a warning "unused variable 'pk'" on a line that declares
 * a struct port_rule_key (the lookup in policy_ports took another key). Its name and line, or undefined.
 */
async function unusedPortKey(ctx: Lab4Context): Promise<{name: string; line: number} | undefined> {
  const b = await ctx.pinned.program.built()
  for (const d of b.diagnostics) {
    const m = d.severity === 'warning' ? /^unused variable '(\w+)'/.exec(d.message) : null
    if (m && new RegExp(`struct\\s+port_rule_key\\s+${m[1]}\\b`).test(d.snippet[0] ?? ''))
      return {name: m[1], line: d.line}
  }
  return undefined
}

/** What the ISOLATED_BY_SOURCE cause tells the attendee to do. */
const ISOLATED_BY_SOURCE_HINT =
  "look isolated up by the packet's destination (__u32 daddr = ip->daddr; bpf_map_lookup_elem(&isolated, &daddr)): a policy protects what its pod receives, not what it sends"

/** to_pod asks `isolated` with the source: isolated pods' own packets are dropped, packets to them pass. */
const ISOLATED_BY_SOURCE: CheckCause = {
  key: 'to-pod-isolated-by-source',
  summary: `to_pod looks \`isolated\` up by the packet's source, not its destination; ${ISOLATED_BY_SOURCE_HINT}`,
}

/**
 * Traffic that reached a pod a policy selects, when to_pod ignores `isolated`, follows from that:
 * fail saying so, not blaming conntrack, the agent or the controller. The evidence is to_pod alone
 * on a crafted frame, from a pod no rule admits, to an isolated pod.
 */
export async function failIfIsolationIgnored(ctx: Lab4Context, what: string, brief: string): Promise<void> {
  const pods: PolicyPod[] = [
    {name: 'iso-server', ip: '10.250.5.2', labels: {role: 'iso-server'}},
    {name: 'iso-other', ip: '10.250.5.3', labels: {}},
  ]
  const [v, back] = await withPretendPods(ctx, pods, [isolate('iso-server-isolated', {role: 'iso-server'})], () => [
    ctx.policy.toPodOnly(ipv4Tcp(pods[1].ip, pods[0].ip, 80, 44100)),
    // The isolated pod's own packet to a pod in no policy: dropped only by a lookup by the source.
    ctx.policy.toPodOnly(ipv4Tcp(pods[0].ip, pods[1].ip, 44101, 80)),
  ])
  if (v.how === 'passed' && back.dropped)
    fail(
      `${what}. This follows from to_pod looking isolated up by the source: a crafted TCP 80 frame to an isolated pod, from a pod no rule admits, passed to_pod, and the isolated pod's own frame to that pod (in no policy) got ${back.how}`,
      ISOLATED_BY_SOURCE_HINT,
      ISOLATED_BY_SOURCE,
      brief,
    )
  if (v.how === 'passed')
    fail(
      `${what}. This follows from to_pod ignoring isolated: a crafted TCP 80 frame to an isolated pod, from a pod no rule admits, passed to_pod`,
      ISOLATION_IGNORED_HINT,
      ISOLATION_IGNORED,
      brief,
    )
}

const PAIR_ALLOW_IGNORED_HINT =
  'in to_pod, a rule for the pair decides before isolated: POLICY_ALLOW passes (tc_pass(skb, REASON_ALLOWED)), POLICY_DENY drops (tc_drop(skb, REASON_DENIED))'

/** to_pod falls through to `isolated` on a pair's ALLOW: every check whose allowed pair is such a rule fails from it. */
const PAIR_ALLOW_IGNORED: CheckCause = {
  key: 'to-pod-ignores-pair-allow',
  summary: `to_pod drops what a rule for the whole pair allows, to a pod a policy selects; ${PAIR_ALLOW_IGNORED_HINT}`,
}

/**
 * Allowed traffic dropped on real pods, when to_pod does not pass a pair's ALLOW (only its DENY
 * decides, then isolated drops), follows from that: fail saying so, not blaming the agent or the
 * controller. The evidence is to_pod alone on a crafted frame to an isolated pod, from a pod that
 * a rule for the pair allows on every port. Call it after failIfIsolatedBeforeRules (that order
 * drops the same frame, and a port rule's too).
 */
export async function failIfPairAllowIgnored(ctx: Lab4Context, what: string, brief: string): Promise<void> {
  const pods: PolicyPod[] = [
    {name: 'pair-client', ip: '10.250.6.1', labels: {role: 'pair-client'}},
    {name: 'pair-server', ip: '10.250.6.2', labels: {role: 'pair-server'}},
  ]
  const v = await withPretendPods(
    ctx,
    pods,
    [isolate('pair-server-isolated', {role: 'pair-server'})],
    () => ctx.policy.toPodOnly(ipv4Tcp(pods[0].ip, pods[1].ip, 80, 44200)),
    [{from: 'pair-client', to: 'pair-server', verdict: 'allow'}],
  )
  if (v.dropped)
    fail(
      `${what}. This follows from to_pod not passing a rule that allows the whole pair: a crafted TCP 80 frame to an isolated pod, from a pod with an ALLOW entry for that pair in policy, got ${v.how}`,
      PAIR_ALLOW_IGNORED_HINT,
      PAIR_ALLOW_IGNORED,
      brief,
    )
}

/**
 * A pass by a port rule is reported as one (REASON_PORT_ALLOWED), not as the pair's: to_pod alone
 * on a crafted TCP 80 frame that only a port rule admits (a test run reports as a packet does).
 * No pods: the step's real probes use rules for whole pairs. Its pod and policy go into the store
 * beside the real probes' policy, under the same sync and the same read of the ring.
 */
const PORT_EVENT = {
  pods: [
    {name: 'event-client', ip: '10.250.7.1', labels: {role: 'event-client'}},
    {name: 'event-server', ip: '10.250.7.2', labels: {role: 'event-server'}},
  ] satisfies PolicyPod[],
  policy: {
    name: 'event-server-tcp-80',
    podSelector: {role: 'event-server'},
    ingress: [{from: [{role: 'event-client'}], ports: [{protocol: 'TCP', port: 80}]}],
  } satisfies PolicySpec,
  frame: () => ipv4Tcp('10.250.7.1', '10.250.7.2', 80, 44300),
}

/** Fail when the port rule's frame passed to_pod reported with another reason than port-allowed. */
function failIfPortRuleMisreported(v: PathVerdict, seen: SeenFlows): void {
  // Whether the port rule passes at all is policy.ports' to judge; here only what was reported.
  if (v.dropped) return
  const [c, srv] = PORT_EVENT.pods.map((p) => p.ip)
  const mine = flowsBetween(seen, c, srv).filter((f) => f.program === 'to_pod')
  if (!mine.some((f) => f.verdict === 'FORWARDED' && f.reason === 'port-allowed'))
    fail(
      `a crafted TCP 80 frame that only a port rule admits (policy ${PORT_EVENT.policy.name}: TCP 80 from role=event-client, no rule for the whole pair) passed to_pod, reported as ${quoteFlows(mine)}; expected FORWARDED with reason port-allowed`,
      'where a port rule decides: return tc_pass(skb, REASON_PORT_ALLOWED) or tc_drop(skb, REASON_PORT_DENIED); REASON_ALLOWED / REASON_DENIED are for a rule on every port',
    )
}

/**
 * Step networkpolicy's checks (lab.yaml orders the run), and what `ebpfcni observe` shows of it:
 * the flow events must be what the datapath did (policy.flow-events).
 */
export const NETWORKPOLICY_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  {
    id: 'policy.to-pod',
    cost: 'cheap',
    title: 'to_pod, at the receiving pod: with no policy IPv4 and ARP pass both ways; IPv6 never reaches a pod',
    hint: 'In to_pod: ARP returns TC_ACT_OK; anything that is not IPv4 (parse_iphdr gives NULL) returns TC_ACT_SHOT; a pod no policy selects gets TC_ACT_OK.',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await ctx.policy.requireMapLayout()
      const pods: PolicyPod[] = [
        {name: 'plain-a', ip: '10.250.2.1', labels: {role: 'a'}},
        {name: 'plain-b', ip: '10.250.2.2', labels: {role: 'b'}},
      ]
      return withPretendPods(ctx, pods, [], () => {
        const [x, y] = pods.map((p) => p.ip)
        const cases: Array<[string, Buffer, Expect]> = [
          [`${x} → ${y} TCP 80 (no policy selects either pod)`, ipv4Tcp(x, y, 80), 'pass'],
          [`${y} → ${x} UDP 53`, ipv4Udp(y, x, 'q', 53), 'pass'],
          ['ARP', arp(), 'pass'],
          ['IPv6 UDP fe80::a → fe80::b port 9999', ipv6Udp(9999), 'drop'],
        ]
        expectPath(ctx, cases)
        return `${cases.length} frames: pods no policy selects get IPv4 and ARP; IPv6 is dropped at the pod's veth`
      })
    },
  },
  {
    id: 'policy.ports',
    cost: 'cheap',
    title:
      'a NetworkPolicy limited to TCP port 80: that port passes; other ports, UDP, other pods, later fragments and malformed headers are dropped',
    hint: 'In to_pod, after the pair rule: look up struct port_rule_key {src, dst, dport (network order, from parse_ports), proto}; build it whole so pad is zero.',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await requireMap(
        ctx,
        ['policy_ports', 'endpoint_policy'],
        'ports map (policy_ports, or endpoint_policy in the identity design)',
      )
      await ctx.policy.requireMapLayout()
      const pods: PolicyPod[] = [
        {name: 'port-client', ip: '10.250.1.1', labels: {role: 'client'}},
        // .0.80: a program that trusts an IHL of 4 reads the destination's last bytes as the port: 80.
        {name: 'port-server', ip: '10.250.0.80', labels: {role: 'server'}},
        {name: 'port-other', ip: '10.250.1.3', labels: {}},
      ]
      const web: PolicySpec = {
        name: 'server-tcp-80',
        podSelector: {role: 'server'},
        ingress: [{from: [{role: 'client'}], ports: [{protocol: 'TCP', port: 80}]}],
      }
      return withPretendPods(ctx, pods, [web], async () => {
        const [c, srv, o] = pods.map((p) => p.ip)
        const cases: Array<[string, Buffer, Expect]> = [
          [`client → server TCP 80`, ipv4Tcp(c, srv, 80, 41000), 'pass'],
          [`client → server TCP 8080`, ipv4Tcp(c, srv, 8080, 41001), 'drop'],
          [`client → server UDP 80`, ipv4Udp(c, srv, 'x', 80, 41002), 'drop'],
          [`unlabelled → server TCP 80`, ipv4Tcp(o, srv, 80, 41003), 'drop'],
          // Only a first fragment holds the TCP header: a later one's payload is no port, whatever it spells.
          [`client → server, a later TCP fragment whose payload spells port 80`, ipv4LaterFragment(c, srv, 80), 'drop'],
          [
            `client → server TCP 80 with an IHL of 4 (malformed: the IP header is at least 20 bytes)`,
            withShortIhl(ipv4Tcp(c, srv, 80, 41005)),
            'drop',
          ],
          [
            `server → client TCP 41004 (the client is not selected: it accepts anything)`,
            ipv4Tcp(srv, c, 41004, 80),
            'pass',
          ],
        ]
        // The allowed frame dropped: either to_pod asks `isolated` before the rules (then a rule for
        // the whole pair does not help either), or its policy_ports lookup missed (show the key bytes).
        const [allowed] = ctx.policy.path([cases[0][1]])
        if (
          allowed.dropped &&
          allowed.how.includes('(to_pod)') &&
          (await isolatedBeforeRules(ctx, 'port-other', 'port-server', ipv4Tcp(o, srv, 80, 41006)))
        )
          await briefly('client → server TCP 80, which the policy allows, was dropped at to_pod', () =>
            failIsolatedBeforeRules(
              `client → server TCP 80, which the policy allows, was dropped (${allowed.how}), and so was unlabelled → server TCP 80 with a rule allowing that pair on every port`,
            ),
          )
        if (allowed.dropped && ctx.policy.denyProgram() === 'xdp_prog') {
          // clang's warning names the mistake better than the key bytes: the key built, then another looked up.
          const unused = await unusedPortKey(ctx)
          if (unused)
            fail(
              `client → server TCP 80: ${allowed.how}, expected to pass: the policy allows it, so to_pod's lookup in policy_ports missed; clang warned: unused variable '${unused.name}' (ebpfcni.bpf.c:${unused.line}), your struct port_rule_key`,
              `your port key \`${unused.name}\` is built but never used: the lookup in policy_ports must take &${unused.name}`,
              {
                key: PORT_RULE_MISSED.key,
                summary: `your port key \`${unused.name}\` is built but never used: to_pod's lookup in policy_ports must take &${unused.name}`,
              },
            )
          const keys = ctx.policy.mapKeys('policy_ports').map(describePortKey)
          fail(
            `client → server TCP 80: ${allowed.how}, expected to pass: the policy allows it, so to_pod's lookup in policy_ports missed. The map holds ${keys.length ? keys.join('; ') : 'no key'}. Your key must have exactly these bytes: dport as parse_ports gives it (80 is 00 50 in the packet; 50 00 is bpf_ntohs'd), and pad 0 (build the struct whole)`,
            undefined,
            PORT_RULE_MISSED,
          )
        }
        // A pair no rule admits passed to the isolated server: either nothing asks `isolated`, or to_pod
        // took the packet for a reply to itself (conntrack asked with the packet's own tuple, which
        // xdp_prog had just recorded). to_pod alone, on a flow xdp_prog never saw, tells which.
        let hint: string | undefined
        let ignored = false
        let bySource = false
        const [unlabelled] = ctx.policy.path([cases[3][1]])
        if (unlabelled.how === 'passed') {
          ignored = !ctx.policy.toPodOnly(ipv4Tcp(o, srv, 80, 41007)).dropped
          // The isolated server's own packet to a pod no policy selects, no reply to anything: only
          // an `isolated` lookup by the source drops it.
          bySource = ignored && ctx.policy.toPodOnly(ipv4Tcp(srv, o, 41008, 80)).dropped
          hint = ignored
            ? `unlabelled → server TCP 80 passed, though no rule admits that pair and the server is in isolated (a policy selects it): ${ISOLATION_IGNORED_HINT}`
            : "unlabelled → server TCP 80 passed only once xdp_prog had recorded its flow (to_pod alone dropped it): to_pod took the packet for a reply to itself. Look conntrack up with the reversed tuple ({.saddr = daddr, .daddr = saddr, .sport = dport, .dport = sport}), not the packet's own"
        }
        await briefly('crafted frames to_pod must drop got 1 (XDP_DROP) from it and went on', () => {
          try {
            expectPath(ctx, cases, hint)
          } catch (err) {
            if (bySource && err instanceof CheckFailure && !err.established)
              fail(
                `${err.message}. to_pod looks isolated up by the source: unlabelled → server TCP 80 passed, though the server is isolated and no rule admits the pair, and the server's own TCP packet to the unlabelled pod (in no policy) was dropped at to_pod`,
                ISOLATED_BY_SOURCE_HINT,
                ISOLATED_BY_SOURCE,
                'crafted frames went by the source in isolated, not by the destination',
              )
            if (ignored && err instanceof CheckFailure && !err.established)
              fail(
                err.message,
                err.hint,
                ISOLATION_IGNORED,
                'crafted frames no rule admits passed to_pod into an isolated pod',
              )
            throw err
          }
        })
        return `${cases.length} frames: only TCP 80 from the client reached the server (a later fragment, or an IHL below 5, is not taken for port 80)`
      })
    },
  },
  {
    id: 'policy.networkpolicy',
    title:
      'the original httpbin/sleep NetworkPolicy on real pods: sleep and the node reach httpbin, an unlabelled pod does not',
    hint: "to_pod at httpbin's veth: a rule for the pair passes; no rule and httpbin in isolated: drop. The node's address has an ALLOW rule of its own.",
    run: async (ctx) => {
      const [[a, b], other] = await alongside(clientAndServer(ctx), ctx.policy.labelledPod('other', {}))
      const svc = await ctx.policy.service()
      const otherBefore = await http(other, a, true, ctx)
      if (!otherBefore.ok)
        throw new CheckSkip(`needs the unlabelled pod to reach httpbin before the policy (${otherBefore.detail})`)
      svc.store.putPolicy(originalPolicy())
      const r = await svc.sync()
      const sleepOk = await http(b, a, true, ctx)
      const otherDenied = await http(other, a, false, ctx)
      if (!sleepOk.ok) {
        const what = `with the policy applied (${r.written} entries written, ${r.mode} design), sleep ${b.ip} → httpbin ${a.ip} failed: ${sleepOk.detail}`
        const brief = 'with the policy applied, sleep could not reach httpbin'
        await briefly(brief, () => failIfIsolatedBeforeRules(ctx, what))
        await failIfPairAllowIgnored(ctx, what, brief)
        fail(what, 'the ALLOW entry for (sleep, httpbin) must win over httpbin being isolated')
      }
      if (otherDenied.ok) {
        const what = `with the policy applied, the unlabelled pod's request was not dropped: ${otherDenied.detail}`
        const brief = "with the policy applied, the unlabelled pod's request to httpbin was not dropped"
        await briefly(brief, () => failIfXdpDropInTc(ctx, what, other.ip, a.ip))
        await failIfIsolationIgnored(ctx, what, brief)
        fail(
          what,
          'httpbin is selected by the policy: without an ALLOW rule for the pair, traffic to it must be dropped',
        )
      }
      // Kubernetes: traffic from the node a pod runs on is always allowed (kubelet probes).
      const node = await httpGet('/proc/self/ns/net', `http://${a.ip}/get`, 3)
      if (!node.ok)
        fail(
          `with the policy applied, the node itself can no longer reach httpbin ${a.ip}: ${node.detail}`,
          "the controller writes an ALLOW rule from the node's address to every selected pod: a rule for the pair must pass",
        )
      return `${r.mode} design, ${r.written} entries: sleep → httpbin 200, node → httpbin 200, unlabelled → httpbin dropped`
    },
  },
  {
    id: 'policy.existing-pod',
    title: 'a pod made before the program was loaded is covered once the agent attaches the programs',
    hint: "This is `ebpfcni policy`'s job (it attaches to_pod and xdp_prog to every pod it knows); your programs must not depend on the CNI ADD having run them.",
    run: async (ctx) => {
      // httpbin itself, its veth stripped as if it had been made before the program: what the check
      // proves is the agent's attachment at sync, not the pod's age, and a pod made for it alone
      // cost an ADD, a server, a DEL and their ledger writes (~0.4 s with both cores busy).
      const [[late, b], other] = await alongside(clientAndServer(ctx), ctx.policy.labelledPod('other', {}))
      // As if made before the program: no XDP and no to_pod on its veth.
      const peer = await hostPeer(late.netnsPath, 'eth0')
      if (!peer) throw new CheckSkip(`needs the host side of pod ${late.name}'s veth`)
      await xdpOff(peer.ifname)
      tcHookDestroy(peer.ifindex)
      const pod = `httpbin ${late.ip}, its veth ${peer.ifname} without programs as if made before them,`
      const svc = await ctx.policy.service()
      const before = await http(other, late, true, ctx)
      if (!before.ok)
        throw new CheckSkip(`needs httpbin to answer HTTP with no programs on its veth (${before.detail})`)
      svc.store.putPolicy(originalPolicy())
      await svc.sync()
      const allowed = await http(b, late, true, ctx)
      if (!allowed.ok) {
        const what = `sleep ${b.ip} cannot reach ${pod} once the policy is applied and the agent has synced: ${allowed.detail}`
        const brief = 'sleep could not reach httpbin, made bare as if before the program, once the policy was applied'
        await briefly(brief, () => failIfIsolatedBeforeRules(ctx, what))
        await failIfPairAllowIgnored(ctx, what, brief)
        fail(
          what,
          "the agent attached your to_pod to this pod's veth again: it must pass sleep there as it did before (the same ALLOW entry, looked up per packet); ebpfcni policy list shows the entries",
        )
      }
      const lateReq = await http(other, late, false, ctx)
      if (lateReq.ok) {
        const what = `${pod} was not protected once the agent had synced: ${lateReq.detail}`
        const brief = "the unlabelled pod's request to httpbin, made bare as if before the program, was not dropped"
        await briefly(brief, () => failIfXdpDropInTc(ctx, what, other.ip, late.ip))
        await failIfIsolationIgnored(ctx, what, brief)
        // Say what is on the veth, not what we guess: attached and passing, or never attached.
        const onVeth = (await attachments(peer.ifname)).find((x) => x.hook === 'tc-egress')
        fail(
          onVeth
            ? `${pod} was not protected, although the agent attached ${onVeth.name ?? 'a program'} (id ${onVeth.id}) to ${peer.ifname}'s TC egress: ${lateReq.detail}`
            : `${pod} was not protected: after the sync, ${peer.ifname} has no TC egress program (${lateReq.detail})`,
          onVeth
            ? 'the to_pod the agent attached must drop here as it did before: ebpfcni policy list shows whether this pod is in isolated'
            : 'the agent attaches to_pod to every pod at sync: is your program named to_pod, and pinned?',
        )
      }
      return `httpbin ${late.ip} with no programs on its veth, as if made before them: once the agent synced, sleep allowed, unlabelled dropped`
    },
  },
  {
    id: 'policy.follows-pods',
    cost: 'heavy',
    title:
      'with the controller running, a new app=sleep pod reaches httpbin without a new apply, and a deleted pod leaves no rules',
    hint: "This is the controller's job (ebpfcni policy watch); your program must look rules up per packet, not assume a fixed set.",
    run: async (ctx) => {
      const [a] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      svc.store.putPolicy(originalPolicy())
      const controller = ctx.policy.controller(svc)
      await controller.start()
      try {
        const [sleep2, other2] = await alongside(
          ctx.policy.labelledPod('sleep-new', {app: 'sleep'}),
          ctx.policy.labelledPod('other-new', {}),
        )
        // The pods' records reached the controller as they were made (the pod source tells it at
        // once); idle() returns when the sync they started has written the maps. No timer: a probe
        // after that either gets through or is dropped by what the maps and the program now say.
        await controller.idle()
        const first = await http(sleep2, a, true, ctx)
        if (!first.ok) {
          // The controller is ready-made: say whether it wrote the entry, so the attendee looks at their part.
          const now = await ctx.policy.readMaps()
          const id = now.identities.get(sleep2.ip)
          const written = now.pairs.has(`${now.mode === 'ip-pair' ? sleep2.ip : id}>${a.ip}`)
          const what = `a new app=sleep pod ${sleep2.ip} could not reach httpbin ${a.ip} once the controller had synced after it appeared (${first.detail}); the controller ${written ? 'had written' : 'had not written'} its ALLOW entry`
          if (written) {
            const brief = 'the new app=sleep pod could not reach httpbin, though the controller wrote its entry'
            await briefly(brief, () => failIfIsolatedBeforeRules(ctx, what))
            await failIfPairAllowIgnored(ctx, what, brief)
          }
          fail(
            what,
            written
              ? 'the entry for the new pair is in the map: to_pod at httpbin must pass it, looking the pair up on every packet (as for sleep), not only for pods it knew when loaded'
              : "the ALLOW entry for the new pod is missing: ebpfcni policy list shows what the ready-made controller wrote; if your program declares the policy maps with another layout than ebpfcni_policy.h's, it cannot write them",
          )
        }
        const o2 = await http(other2, a, false, ctx)
        if (o2.ok) {
          const what = `a new unlabelled pod's request to httpbin was not dropped: ${o2.detail}`
          const brief = "the new unlabelled pod's request to httpbin was not dropped"
          await briefly(brief, () => failIfXdpDropInTc(ctx, what, other2.ip, a.ip))
          await failIfIsolationIgnored(ctx, what, brief)
          fail(what)
        }
        const gone = sleep2.ip
        await ctx.policy.dropPod(sleep2)
        await controller.idle()
        const cur = await ctx.policy.readMaps()
        const stale =
          cur.mode === 'ip-pair'
            ? [...cur.pairs.keys(), ...cur.portPairs.keys()].filter((k) => k.split('>').includes(gone))
            : cur.identities.has(gone)
              ? [`identity[${gone}]`]
              : []
        if (stale.length)
          fail(
            `pod ${gone} was deleted but the maps still hold ${stale.slice(0, 3).join(', ')}: its address will be reused by another pod`,
          )
        return `new sleep pod allowed, new unlabelled pod dropped, deleted pod's entries gone`
      } finally {
        controller.stop()
      }
    },
  },
  {
    id: 'policy.flow-events',
    title:
      'flow events tell the truth: a denied connection is DROPPED at to_pod (reason isolated, its policy named), allowed traffic FORWARDED with the reason that decided (ct-reply for a reply, port-allowed for a port rule), none lost',
    hint: 'Return each verdict through tc_drop(skb, REASON_…) / tc_pass(skb, REASON_…) (and xdp_drop / xdp_pass in xdp_prog) with the reason of the branch that decided; keep #include "ebpfcni_flow.h".',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await requireMap(
        ctx,
        ['flow_events'],
        'flow_events ring buffer',
        'keep #include "ebpfcni_flow.h" in ebpfcni.bpf.c: it declares the ring and the helpers that report each verdict',
      )
      const [httpbin, sleep] = await clientAndServer(ctx)
      const other = await ctx.policy.labelledPod('other', {})
      const svc = await ctx.policy.service()
      svc.store.putPolicy(originalPolicy())
      PORT_EVENT.pods.forEach((p) => ctx.policy.podSource.add(p))
      svc.store.putPolicy(PORT_EVENT.policy)
      let probed
      try {
        await svc.sync()
        probed = await flowsDuring(ctx, async () => ({
          denied: await http(other, httpbin, false, ctx),
          allowed: await http(sleep, httpbin, true, ctx),
          port: ctx.policy.toPodOnly(PORT_EVENT.frame()),
        }))
      } finally {
        // Out of the store; their map entries (no real pod's address) go at the next sync, or the run's restore.
        PORT_EVENT.pods.forEach((p) => ctx.policy.podSource.remove(p.name))
        svc.store.deletePolicy(PORT_EVENT.policy.name)
      }
      const {result, seen} = probed
      if (!seen) fail('no flow_events ring could be read', 'keep #include "ebpfcni_flow.h"')
      if (result.denied.ok)
        throw new CheckSkip('needs other → httpbin dropped first (it was not): policy.networkpolicy says why')
      const toHttpbin = flowsBetween(seen, other.ip, httpbin.ip)
      const drops = toHttpbin.filter((f) => f.verdict === 'DROPPED')
      if (!drops.length)
        fail(
          `${result.denied.fate ?? result.denied.detail}, but your programs reported no DROPPED event for it; for other → httpbin they reported: ${quoteFlows(toHttpbin)}`,
          'where a destination in isolated is dropped: return tc_drop(skb, REASON_ISOLATED); tc_drop reports the drop, TC_ACT_SHOT alone does not',
        )
      const wrong = drops.filter((f) => f.program !== 'to_pod' || f.reason !== 'isolated')
      if (wrong.length)
        fail(
          `other → httpbin (no rule admits an unlabelled pod) was reported as ${quoteFlows(wrong)}; expected to_pod DROPPED with reason isolated`,
          'the reason is the branch that decided: REASON_ISOLATED where the isolated lookup drops',
        )
      if (!drops[0].policy?.includes(originalPolicy().name))
        fail(
          `other → httpbin was dropped with reason isolated, but no policy was named (${quoteFlows(drops)}): is httpbin in isolated?`,
        )
      if (!result.allowed.ok) throw new CheckSkip(`needs sleep → httpbin to work (${result.allowed.detail})`)
      const admitted = flowsBetween(seen, sleep.ip, httpbin.ip).filter((f) => f.program === 'to_pod')
      if (!admitted.some((f) => f.verdict === 'FORWARDED' && f.reason === 'allowed'))
        fail(
          `sleep → httpbin got through, but to_pod reported ${quoteFlows(admitted)}; expected FORWARDED with reason allowed (httpbin-allow-sleep admits app=sleep on every port: a rule in policy)`,
          'where a rule for the pair passes: return tc_pass(skb, REASON_ALLOWED)',
        )
      // sleep had its answer: httpbin's replies passed to_pod at sleep's veth, through ct_is_reply first.
      const replies = flowsBetween(seen, httpbin.ip, sleep.ip).filter((f) => f.program === 'to_pod')
      if (!replies.some((f) => f.verdict === 'FORWARDED' && f.reason === 'ct-reply'))
        fail(
          `sleep → httpbin got its answer, so httpbin's replies passed to_pod at sleep's veth, but to_pod reported ${replies.length ? quoteFlows(replies) : 'no event for them'}; expected FORWARDED with reason ct-reply`,
          'where ct_is_reply passes a reply: return tc_pass(skb, REASON_CT_REPLY); a bare TC_ACT_OK passes it unreported',
        )
      failIfPortRuleMisreported(result.port, seen)
      if (seen.lost > 0n)
        fail(
          `${seen.lost} flow event(s) were lost while the check ran (the ring was full): events from other programs flooding flow_events?`,
        )
      return `other → httpbin: ${quoteFlows(drops, 1)}; sleep → httpbin FORWARDED at to_pod (allowed); ${seen.flows.length} events, 0 lost`
    },
  },
]
