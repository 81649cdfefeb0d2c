import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fail, CheckSkip, type CheckDefinition} from '../../checks/engine.js'
import type {Lab4Context} from './context.js'
import {lab2Check} from '../lab2/checks.js'
import {tcHookDestroy} from '../../bpf/attach.js'
import {arp, ipv4LaterFragment, ipv4Tcp, ipv4Udp, ipv6Udp, withShortIhl} from '../../bpf/frames.js'
import {arrivals, httpGet, nsExecArgs, requestFate, sendUdp, tcpConnect} from '../../net/probes.js'
import {attachments} from '../../net/attachments.js'
import {readCounterMap} from '../../bpf/counters.js'
import {hostPeer, podAddrInfo, xdpOff} from '../../net/ip.js'
import {run, ok, describeRun} from '../../host/exec.js'
import {labsRoot} from '../../host/paths.js'
import {parseNetworkPolicy, type PolicySpec} from '../../policy/networkpolicy.js'
import {resolve, type ManualRule, type PolicyPod} from '../../policy/resolve.js'
import type {AddressedPod, CheckPod} from '../../checks/check-pods.js'

// Lab 4's checks: the learner's programs enforce what the policy layer writes. Crafted frames
// first (no pods: each frame goes through xdp_prog as at the sender's veth, then to_pod as at
// the receiver's), then real pods: HTTP, UDP and TCP counted where they arrive, a spoof attempt,
// a pod made before the program, a controller that follows pods, and the identity design's sizes.

/** The original workshop's policy: httpbin accepts only app=sleep. */
const originalPolicy = () =>
  parseNetworkPolicy(readFileSync(join(labsRoot(), '04-security-policy/policy.yaml'), 'utf8'), 'policy.yaml')

/**
 * HTTP from one check pod to another. When a drop is expected, the probe proves its own request's
 * fate from the two pods' counters (requestFate): never from the shared drop counter, which any
 * other drop raises too (IPv6 from a new pod). `ok` is true when the request got through to the
 * server, answered or not; a request the busy machine never sent is no verdict.
 */
async function http(_ctx: Lab4Context, from: CheckPod, to: CheckPod, expectOk: boolean) {
  const url = `http://${to.ip}/get`
  if (expectOk) {
    const r = await httpGet(from.netnsPath, url, 3)
    if (r.ok) return r
    // Say what became of it, not how wget died: a second request, judged by the pods' counters.
    const seen = /did not finish within/.test(r.detail)
      ? 'no answer within 3 s'
      : r.detail.replace(/nsenter \S+ busybox /, '')
    const again = await requestFate(from.netnsPath, to.netnsPath, url, 5)
    return {...r, detail: `HTTP GET ${url} from ${from.ip}: ${seen}; a second request: ${again.detail}`}
  }
  const f = await requestFate(from.netnsPath, to.netnsPath, url)
  if (f.fate === 'not-sent') throw new CheckSkip(`HTTP GET ${url} from ${from.ip}: ${f.detail}`)
  return {ok: f.fate !== 'dropped', detail: `HTTP GET ${url} from ${from.ip}: ${f.detail}`}
}

async function clientAndServer(ctx: Lab4Context): Promise<[AddressedPod, AddressedPod]> {
  const svc = await ctx.policy.service()
  const a = await ctx.policy.labelledPod('httpbin', {app: 'httpbin'})
  const b = await ctx.policy.labelledPod('sleep', {app: 'sleep'})
  // Each check starts from no rules and no policies of its own.
  for (const r of svc.store.read().rules) svc.store.removeRule(r.from, r.to)
  for (const n of Object.keys(svc.store.read().policies)) svc.store.deletePolicy(n)
  await svc.sync()
  const before = await http(ctx, b, a, true)
  if (!before.ok) throw new CheckSkip(`needs sleep → httpbin to work without rules first (${before.detail})`)
  return [a, b]
}

type Expect = 'pass' | 'drop'

/** Fail unless the loaded object has one of these maps, naming the maps it has. */
async function requireMap(ctx: Lab4Context, names: string[], what: string, hint?: string): Promise<void> {
  const d = await ctx.pinned.deployed()
  if (!d.maps.some((m) => names.includes(m.name)))
    fail(`your program has no ${what}; its maps: ${d.maps.map((m) => m.name).join(', ') || 'none'}`, hint)
}

/** Send each [what, frame, expected] along the pod-to-pod path; fail naming every mismatch. */
function expectPath(ctx: Lab4Context, cases: Array<[string, Buffer, Expect]>, hint?: string): void {
  const got = ctx.policy.path(cases.map(([, f]) => f))
  const wrong = cases.flatMap(([what, , want], i) =>
    (got[i].dropped ? 'drop' : 'pass') === want
      ? []
      : [`${what}: ${got[i].how}, expected ${want === 'drop' ? 'a drop' : 'to pass'}`],
  )
  if (wrong.length) fail(wrong.join('; '), hint)
}

/** Pretend pods for frame checks: in the policy layer's pod list for the duration of `body`, then gone. */
async function withPretendPods<T>(
  ctx: Lab4Context,
  pods: PolicyPod[],
  policies: PolicySpec[],
  body: () => T | Promise<T>,
  rules: ManualRule[] = [],
): Promise<T> {
  const svc = await ctx.policy.service()
  pods.forEach((p) => ctx.policy.podSource.add(p))
  policies.forEach((p) => svc.store.putPolicy(p))
  rules.forEach((r) => svc.store.setRule(r))
  try {
    await svc.sync()
    return await body()
  } finally {
    rules.forEach((r) => svc.store.removeRule(r.from, r.to))
    pods.forEach((p) => ctx.policy.podSource.remove(p.name))
    policies.forEach((p) => svc.store.deletePolicy(p.name))
    await svc.sync()
  }
}

/** A struct port_rule_key {__be32 src, dst; __be16 dport; __u8 proto, pad} as its bytes and fields. */
function describePortKey(k: Buffer): string {
  if (k.length < 12) return k.toString('hex')
  const ip = (o: number) => [...k.subarray(o, o + 4)].join('.')
  const hex = [...k].map((b) => b.toString(16).padStart(2, '0')).join(' ')
  return `[${hex}] = {src ${ip(0)}, dst ${ip(4)}, dport bytes ${k.subarray(8, 10).toString('hex').replace(/(..)/, '$1 ')} (${k.readUInt16BE(8)}), proto ${k[10]}, pad ${k[11]}}`
}

/** conntrack keys for UDP to port 9999 from `src` to `dst` (struct ct_key: saddr, daddr, sport, dport, proto, pad). */
function spoofFlows(ctx: Lab4Context, src: string, dst: string): Buffer[] {
  const ip = (k: Buffer, o: number) => [...k.subarray(o, o + 4)].join('.')
  return ctx.policy
    .mapKeys('conntrack')
    .filter(
      (k) => k.length >= 13 && ip(k, 0) === src && ip(k, 4) === dst && k.readUInt16BE(10) === 9999 && k[12] === 17,
    )
}

/** Lab 3's counter for an address (0 when absent or when the counter map is not there). */
function sleepCount(ctx: Lab4Context, ip: string): bigint {
  try {
    return readCounterMap(ctx.pinned.counterPin()).counts.get(ip) ?? 0n
  } catch {
    return 0n
  }
}

/** A policy that selects pods and admits nothing: they are isolated. */
const isolate = (name: string, selector: Record<string, string>): PolicySpec => ({
  name,
  podSelector: selector,
  ingress: [],
})

/** What arrives at a pod while `send` runs (UDP datagrams and TCP segments, IPv4 and IPv6). */
async function arrivedDuring(pod: CheckPod, send: () => Promise<unknown>): Promise<{udp: number; tcp: number}> {
  const before = await arrivals(pod.netnsPath)
  await send()
  const after = await arrivals(pod.netnsPath)
  return {udp: after.udp - before.udp, tcp: after.tcp - before.tcp}
}

/** A pod's IPv6 link-local address once DAD is done (a tentative address cannot be used yet). */
async function linkLocal(pod: CheckPod): Promise<string | undefined> {
  for (let i = 0; i < 40; i++) {
    const ready = (await podAddrInfo(pod.netnsPath, 'eth0', '-6', 'link')).find((x) => !x.tentative)
    if (ready) return ready.local
    await new Promise((res) => setTimeout(res, 100))
  }
  return undefined
}

const UDP_PROBES = 20

export const LAB4_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  lab2Check('bpf.compiles'),
  lab2Check('bpf.verifier-accepts'),
  {
    id: 'policy.test-run',
    cost: 'cheap',
    title: 'crafted frames: a denied pair is dropped; its reverse, other pairs and ARP pass',
    hint: 'Look up struct ip_pair {saddr, daddr} exactly as in the packet (network order, this direction only); drop only on POLICY_DENY.',
    run: async (ctx) => {
      await requireMap(
        ctx,
        ['policy', 'endpoint_policy'],
        'policy map (ebpfcni_policy.h: key struct ip_pair, value __u32)',
      )
      await ctx.policy.requireMapLayout()
      // Two pretend pods (no netns needed: the frames never leave the test run).
      const x = {name: 'test-x', ip: '10.250.0.1', labels: {t: 'x'}}
      const y = {name: 'test-y', ip: '10.250.0.2', labels: {t: 'y'}}
      return withPretendPods(
        ctx,
        [x, y],
        [],
        () => {
          const cases: Array<[string, Buffer, Expect]> = [
            [`denied ${x.ip} → ${y.ip}`, ipv4Udp(x.ip, y.ip), 'drop'],
            [`reverse ${y.ip} → ${x.ip}`, ipv4Udp(y.ip, x.ip), 'pass'],
            [`unrelated ${x.ip} → 10.250.0.3`, ipv4Udp(x.ip, '10.250.0.3'), 'pass'],
            ['ARP', arp(), 'pass'],
          ]
          expectPath(ctx, cases)
          // Step 1 is xdp_prog's: a to_pod that drops the pair later must not pass for it (the
          // identity design moves the deny list to to_pod on purpose).
          const deny = ctx.policy.testRunDeny(ipv4Udp(x.ip, y.ip), 1)
          if (!deny.dropped)
            fail(
              `the denied ${x.ip} → ${y.ip} frame got ${deny.verdict} from ${deny.program}: the deny list is ${deny.program}'s${deny.program === 'xdp_prog' ? ', at the sender (to_pod dropping it later does not count for this step)' : ''}`,
            )
          return `${cases.length} frames: the denied pair dropped by ${deny.program}, the rest passed`
        },
        [{from: x.name, to: y.name, verdict: 'deny'}],
      )
    },
  },
  {
    id: 'policy.deny-drops',
    title: 'after `policy deny sleep httpbin`, sleep → httpbin HTTP is dropped, and each drop is counted in drops[0]',
    hint: 'On POLICY_DENY: return xdp_drop(), which adds one to drops[0] (a per-CPU array) and returns XDP_DROP.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      await svc.setRule('deny', 'sleep', 'httpbin')
      const r = await http(ctx, b, a, false)
      if (r.ok) fail(`after the deny rule for sleep → httpbin, sleep's request was not dropped: ${r.detail}`)
      // The counter is the host's: other pods' drops (IPv6 chatter at to_pod) raise it too. So the
      // proof is test runs of this very frame: N runs must raise it by at least N.
      const runs = 100
      const before = ctx.policy.drops()
      const deny = ctx.policy.testRunDeny(ipv4Udp(b.ip, a.ip), runs)
      const rose = ctx.policy.drops() - before
      if (rose < BigInt(runs))
        fail(
          `sleep's request was dropped (${r.detail}), but ${runs} test runs of ${deny.program} on a denied sleep → httpbin frame (verdict ${deny.verdict}) raised drops[0] by ${rose}: count each drop`,
          'return xdp_drop() on POLICY_DENY: it adds one to drops[0] before returning XDP_DROP',
        )
      return `dropped (${r.detail}); ${runs} test runs of the denied frame raised drops[0] by ${rose} (the host's counter, shared by every pod)`
    },
  },
  {
    id: 'policy.allow-passes',
    title: 'an ALLOW rule for the pair lets sleep → httpbin through again',
    hint: 'Only POLICY_DENY drops: a POLICY_ALLOW entry must pass.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      await svc.setRule('deny', 'sleep', 'httpbin')
      await svc.setRule('allow', 'sleep', 'httpbin')
      const r = await http(ctx, b, a, true)
      if (!r.ok) fail(`with an ALLOW rule for sleep → httpbin: ${r.detail}`)
      return `${b.ip} → ${a.ip} HTTP 200 with an ALLOW rule`
    },
  },
  {
    id: 'policy.remove-restores',
    title: 'removing the deny rule restores sleep → httpbin, and leaves no entry for the pair',
    hint: 'The program must not remember a verdict: it looks the pair up on every packet.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      await svc.setRule('deny', 'sleep', 'httpbin')
      const denied = await http(ctx, b, a, false)
      if (denied.ok) throw new CheckSkip('needs deny to work first (policy.deny-drops)')
      await svc.removeRule('sleep', 'httpbin')
      const r = await http(ctx, b, a, true)
      if (!r.ok) fail(`after removing the rule: ${r.detail}`)
      const left = [...(await ctx.policy.readMaps()).pairs.keys()].filter((k) => k.includes(a.ip) && k.includes(b.ip))
      if (left.length) fail(`the rule is gone from the store but the map still holds ${left.join(', ')}`)
      return `${b.ip} → ${a.ip} HTTP 200 again; no entry left`
    },
  },
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
      return withPretendPods(ctx, pods, [web], () => {
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
        // The allowed frame dropped is a lookup that missed: show the bytes the rule's key has.
        const [allowed] = ctx.policy.path([cases[0][1]])
        if (allowed.dropped && ctx.policy.denyProgram() === 'xdp_prog') {
          const keys = ctx.policy.mapKeys('policy_ports').map(describePortKey)
          fail(
            `client → server TCP 80: ${allowed.how}, expected to pass: the policy allows it, so to_pod's lookup in policy_ports missed. The map holds ${keys.length ? keys.join('; ') : 'no key'}. Your key must have exactly these bytes: dport as parse_ports gives it (80 is 00 50 in the packet; 50 00 is bpf_ntohs'd), and pad 0 (build the struct whole)`,
          )
        }
        expectPath(ctx, cases)
        return `${cases.length} frames: only TCP 80 from the client reached the server (a later fragment, or an IHL below 5, is not taken for port 80)`
      })
    },
  },
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
      return withPretendPods(ctx, pods, [web, isolate('ct-client-isolated', {role: 'client'})], () => {
        const [c, srv] = pods.map((p) => p.ip)
        const cases: Array<[string, Buffer, Expect]> = [
          [`client :42000 → server TCP 80 (opens the flow)`, ipv4Tcp(c, srv, 80, 42000), 'pass'],
          [`server :80 → client :42000 (the reply)`, ipv4Tcp(srv, c, 42000, 80, 'ack'), 'pass'],
          [`server :80 → client :42001 (no flow the client opened)`, ipv4Tcp(srv, c, 42001, 80, 'ack'), 'drop'],
          [`server → client UDP 9999`, ipv4Udp(srv, c, 'x', 9999, 80), 'drop'],
          [`server → client TCP 22`, ipv4Tcp(srv, c, 22, 42000), 'drop'],
        ]
        expectPath(ctx, cases)
        return `${cases.length} frames: the reply to the client's flow passed; the server reached the isolated client on no other port`
      })
    },
  },
  {
    id: 'policy.networkpolicy',
    title:
      'the original httpbin/sleep NetworkPolicy on real pods: sleep and the node reach httpbin, an unlabelled pod does not',
    hint: "to_pod at httpbin's veth: a rule for the pair passes; no rule and httpbin in isolated: drop. The node's address has an ALLOW rule of its own.",
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const other = await ctx.policy.labelledPod('other', {})
      const svc = await ctx.policy.service()
      const otherBefore = await http(ctx, other, a, true)
      if (!otherBefore.ok)
        throw new CheckSkip(`needs the unlabelled pod to reach httpbin before the policy (${otherBefore.detail})`)
      svc.store.putPolicy(originalPolicy())
      const r = await svc.sync()
      const sleepOk = await http(ctx, b, a, true)
      const otherDenied = await http(ctx, other, a, false)
      if (!sleepOk.ok)
        fail(
          `with the policy applied (${r.written} entries written, ${r.mode} design), sleep ${b.ip} → httpbin ${a.ip} failed: ${sleepOk.detail}`,
          'the ALLOW entry for (sleep, httpbin) must win over httpbin being isolated',
        )
      if (otherDenied.ok)
        fail(
          `with the policy applied, the unlabelled pod's request was not dropped: ${otherDenied.detail}`,
          'httpbin is selected by the policy: without an ALLOW rule for the pair, traffic to it must be dropped',
        )
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
      const sleepV6 = await linkLocal(b)
      svc.store.putPolicy({
        name: 'httpbin-tcp-80-from-sleep',
        podSelector: {app: 'httpbin'},
        ingress: [{from: [{app: 'sleep'}], ports: [{protocol: 'TCP', port: 80}]}],
      })
      svc.store.putPolicy(isolate('sleep-isolated', {app: 'sleep'}))
      await svc.sync()
      const web = await http(ctx, b, a, true)
      if (!web.ok)
        fail(
          `sleep ${b.ip} (isolated) → httpbin ${a.ip} TCP 80: ${web.detail}`,
          "sleep opened the connection: httpbin's replies must pass to_pod at sleep through conntrack",
        )
      const udp = await arrivedDuring(b, () => sendUdp(a.netnsPath, b.ip, 9999, UDP_PROBES))
      if (udp.udp > 0)
        fail(
          `${udp.udp} of ${UDP_PROBES} UDP datagrams from httpbin ${a.ip} reached the isolated sleep ${b.ip} on port 9999`,
          'a rule (or a reverse ALLOW) admits httpbin → sleep on every port: only replies to flows sleep opened may pass',
        )
      const tcp = await arrivedDuring(b, () => tcpConnect(a.netnsPath, b.ip, 8080, 1))
      if (tcp.tcp > 0)
        fail(
          `a TCP SYN from httpbin ${a.ip} reached the isolated sleep ${b.ip} on port 8080`,
          'only replies to flows sleep opened may pass to_pod',
        )
      let v6 = 'no IPv6 link-local address on sleep'
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
  {
    id: 'policy.existing-pod',
    title: 'a pod made before the program was loaded is covered once the agent attaches the programs',
    hint: "This is `ebpfcni policy`'s job (it attaches to_pod and xdp_prog to every pod it knows); your programs must not depend on the CNI ADD having run them.",
    run: async (ctx) => {
      const [, b] = await clientAndServer(ctx)
      const other = await ctx.policy.labelledPod('other', {})
      const late = await ctx.policy.labelledPod('early', {app: 'httpbin'}, 'httpbin')
      // As if made before the program: no XDP and no to_pod on its veth.
      const peer = await hostPeer(late.netnsPath, 'eth0')
      if (!peer) throw new CheckSkip(`needs the host side of pod ${late.name}'s veth`)
      await xdpOff(peer.ifname)
      tcHookDestroy(peer.ifindex)
      const svc = await ctx.policy.service()
      const before = await http(ctx, other, late, true)
      if (!before.ok) throw new CheckSkip(`needs the earlier pod to answer HTTP before the policy (${before.detail})`)
      svc.store.putPolicy(originalPolicy())
      await svc.sync()
      const allowed = await http(ctx, b, late, true)
      if (!allowed.ok)
        fail(
          `sleep ${b.ip} cannot reach the earlier httpbin pod ${late.ip} once the policy is applied: ${allowed.detail}`,
        )
      const lateReq = await http(ctx, other, late, false)
      if (lateReq.ok) {
        // Say what is on the veth, not what we guess: attached and passing, or never attached.
        const onVeth = (await attachments(peer.ifname)).find((x) => x.hook === 'tc-egress')
        fail(
          onVeth
            ? `the earlier httpbin pod ${late.ip} was not protected, although the agent attached ${onVeth.name ?? 'a program'} (id ${onVeth.id}) to ${peer.ifname}'s TC egress: ${lateReq.detail}`
            : `the earlier httpbin pod ${late.ip} was not protected: after the sync, ${peer.ifname} has no TC egress program (${lateReq.detail})`,
          onVeth
            ? 'the same to_pod that protects httpbin must drop here: ebpfcni policy list shows whether this pod is in isolated'
            : 'the agent attaches to_pod to every pod at sync: is your program named to_pod, and pinned?',
        )
      }
      return `earlier pod ${late.ip}: sleep allowed, unlabelled dropped once the programs were attached`
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
        const sleep2 = await ctx.policy.labelledPod('sleep-new', {app: 'sleep'})
        const other2 = await ctx.policy.labelledPod('other-new', {})
        let reached = false
        const deadline = Date.now() + 3000
        while (!reached && Date.now() < deadline) {
          await controller.idle()
          reached = (await http(ctx, sleep2, a, true)).ok
        }
        if (!reached)
          fail(
            `a new app=sleep pod ${sleep2.ip} could not reach httpbin ${a.ip} within 3 s of appearing`,
            "the controller must write the new pod's ALLOW entry when the pod appears",
          )
        const o2 = await http(ctx, other2, a, false)
        if (o2.ok) fail(`a new unlabelled pod's request to httpbin was not dropped: ${o2.detail}`)
        const gone = sleep2.ip
        await ctx.policy.dropPod(sleep2)
        await new Promise((r) => setTimeout(r, 100))
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
    id: 'policy.source-validation',
    title: "a pod that sends from another pod's address is dropped at its own veth; its real address still works",
    hint: 'In xdp_prog: look up ctx->ingress_ifindex in endpoints; when there is an entry and ip->saddr is not it, count the drop and return XDP_DROP.',
    run: async (ctx) => {
      await requireMap(
        ctx,
        ['endpoints'],
        'endpoints map',
        'declare a pinned hash endpoints: key __u32 ifindex, value __u32 address (the agent fills it)',
      )
      const [a, b] = await clientAndServer(ctx)
      const other = await ctx.policy.labelledPod('other', {})
      const svc = await ctx.policy.service()
      svc.store.putPolicy(originalPolicy())
      await svc.sync()
      // The attacker: the unlabelled pod borrows sleep's address, which httpbin admits.
      const inOther = (cmd: string[]) => run(...nsExecArgs(other.netnsPath, cmd), {timeoutMs: 5000})
      const steps = [
        ['ip', 'addr', 'add', `${b.ip}/32`, 'dev', 'eth0', 'noprefixroute'],
        ['ip', 'route', 'add', `${a.ip}/32`, 'dev', 'eth0', 'src', b.ip],
      ]
      for (const st of steps) {
        const r = await inOther(st)
        if (!ok(r))
          throw new CheckSkip(`could not set up the spoof attempt in pod other (${st.join(' ')}: ${describeRun(r)})`)
      }
      // What a spoofed packet must not leave behind: a flow in sleep's name, a count under sleep's address.
      const flowsBefore = new Set(spoofFlows(ctx, b.ip, a.ip).map((k) => k.toString('hex')))
      const countBefore = sleepCount(ctx, b.ip)
      try {
        const dropsBefore = ctx.policy.drops()
        const spoofed = await arrivedDuring(a, () => sendUdp(other.netnsPath, a.ip, 9999, UDP_PROBES))
        const dropsAfter = ctx.policy.drops()
        const made = spoofFlows(ctx, b.ip, a.ip).filter((k) => !flowsBefore.has(k.toString('hex')))
        const counted = sleepCount(ctx, b.ip) - countBefore
        if (spoofed.udp > 0) {
          const entry = [...(await ctx.policy.readMaps()).endpoints].find(([, ip]) => ip === other.ip)
          const known = entry
            ? `endpoints[${entry[0]}] = ${entry[1]} (other's veth)`
            : `endpoints has no entry for other's veth`
          fail(
            `${spoofed.udp} of ${UDP_PROBES} datagrams the unlabelled pod ${other.ip} sent as sleep (${b.ip}) reached httpbin ${a.ip}; ${known}`,
            "the packet arrived on other's veth: in xdp_prog, its source must be endpoints[ctx->ingress_ifindex]",
          )
        }
        if (made.length)
          fail(
            `the spoofed datagrams were dropped, but after conntrack recorded them: ${made.length} flow(s) ${b.ip} → ${a.ip} UDP 9999 appeared in sleep's name, so httpbin's "replies" to sleep would pass`,
            'validate the source first in xdp_prog, before counting or recording anything',
          )
        if (counted >= BigInt(UDP_PROBES))
          fail(
            `the spoofed datagrams were dropped, but counted first: sleep's count (${b.ip}) rose by ${counted} while only the unlabelled pod sent, as sleep`,
            'validate the source first in xdp_prog, before counting or recording anything',
          )
        if (dropsAfter - dropsBefore < BigInt(UDP_PROBES))
          fail(
            `the spoofed datagrams did not arrive, but drops rose by ${dropsAfter - dropsBefore}, not ${UDP_PROBES}: were they dropped by xdp_prog, counted?`,
          )
      } finally {
        await inOther(['ip', 'route', 'del', `${a.ip}/32`])
        await inOther(['ip', 'addr', 'del', `${b.ip}/32`, 'dev', 'eth0'])
        // ARP is not IPv4, so xdp_prog passed other's "who has httpbin? tell <sleep's address>": httpbin
        // now sends sleep's replies to other's MAC. Forget that entry, or the next check's HTTP fails.
        for (const pod of [a, b, other])
          await run(...nsExecArgs(pod.netnsPath, ['ip', 'neigh', 'flush', 'to', b.ip]), {timeoutMs: 5000})
        await run('ip', ['neigh', 'flush', 'to', b.ip], {timeoutMs: 5000})
      }
      const honest = await arrivedDuring(b, () => sendUdp(other.netnsPath, b.ip, 9999, UDP_PROBES))
      if (honest.udp < UDP_PROBES)
        fail(
          `from its own address, the unlabelled pod's datagrams to sleep (not isolated) arrived ${honest.udp} of ${UDP_PROBES}`,
          "drop only a source that is not the pod's own",
        )
      return `spoofed as sleep: 0 of ${UDP_PROBES} reached httpbin, all counted as drops; from its own address all ${UDP_PROBES} reached sleep`
    },
  },
  {
    id: 'policy.identity',
    cost: 'cheap',
    title:
      'identity design: per-endpoint rules grow with the label groups a pod admits, a new client pod adds no rule, and to_pod decides by identity',
    hint: 'Declare identity and endpoint_policy (ebpfcni_policy.h); in to_pod look up {.peer = identity_of(saddr), .endpoint = daddr} for every port, then with dport and proto.',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await requireMap(ctx, ['endpoint_policy'], 'endpoint_policy map (without it, this is still the ip-pair design)')
      await ctx.policy.requireMapLayout()
      const svc = await ctx.policy.service()
      // 30 pretend pods in 3 label groups (maps only; the frames are test runs).
      const fakes: PolicyPod[] = Array.from({length: 30}, (_, i) => ({
        name: `fake-${i}`,
        ip: `10.251.0.${i + 1}`,
        labels: {app: ['httpbin', 'sleep', 'other'][i % 3]},
      }))
      return withPretendPods(ctx, fakes, [originalPolicy()], async () => {
        const cur = await ctx.policy.readMaps()
        const rules = cur.pairs.size + cur.portPairs.size
        const ipPair = resolve('ip-pair', fakes, [originalPolicy()], []).pairs.size
        const endpoints = cur.isolated.size
        if (cur.identities.size < fakes.length)
          fail(`identity holds ${cur.identities.size} addresses for ${fakes.length} pods`)
        if (rules > endpoints * 3)
          fail(
            `endpoint_policy holds ${rules} rules for ${endpoints} selected pods and 3 label groups (at most ${endpoints * 3})`,
          )
        // One more client pod: one identity entry, no rule.
        ctx.policy.podSource.add({name: 'fake-new-sleep', ip: '10.251.0.99', labels: {app: 'sleep'}})
        await svc.sync()
        const grown = await ctx.policy.readMaps()
        ctx.policy.podSource.remove('fake-new-sleep')
        if (grown.pairs.size + grown.portPairs.size !== rules)
          fail(
            `a new app=sleep pod changed the rule count from ${rules} to ${grown.pairs.size + grown.portPairs.size}: rules name identities, so a new pod of a known group needs none`,
          )
        const [httpbin, sleep, other] = [fakes[0].ip, fakes[1].ip, fakes[2].ip]
        const cases: Array<[string, Buffer, Expect]> = [
          [`app=sleep ${sleep} → app=httpbin ${httpbin}`, ipv4Udp(sleep, httpbin, 'x', 9, 43000), 'pass'],
          [
            `the new app=sleep 10.251.0.99 → app=httpbin ${httpbin}`,
            ipv4Udp('10.251.0.99', httpbin, 'x', 9, 43001),
            'drop',
          ],
          [`app=other ${other} → app=httpbin ${httpbin}`, ipv4Udp(other, httpbin, 'x', 9, 43002), 'drop'],
          [`unknown 10.251.1.1 → app=httpbin ${httpbin}`, ipv4Udp('10.251.1.1', httpbin, 'x', 9, 43003), 'drop'],
          [`app=other ${other} → app=sleep ${sleep}`, ipv4Udp(other, sleep, 'x', 9, 43004), 'pass'],
        ]
        // The new pod was removed again: its address is unknown now, so it is dropped like any stranger.
        await svc.sync()
        expectPath(ctx, cases)
        return `${fakes.length} pods: ${rules} per-endpoint rules where address pairs need ${ipPair}; a new client pod added 1 identity and no rule; verdicts by identity correct`
      })
    },
  },
]
