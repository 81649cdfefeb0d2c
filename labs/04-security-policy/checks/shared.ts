// What several of lab 4's step files share: helpers, constants, probes.
import {existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {fail, CheckSkip, type CheckCause} from '#checks/engine.js'
import type {Lab4Context, PathVerdict} from '../context.js'
import {
  arrivals,
  httpGet,
  httpGetWatched,
  requestFate,
  tcpConnect,
  watchedProbe,
  type ProbeResult,
  type RequestFate,
} from '#net/probes.js'
import {readCounterMap} from '#bpf/counters.js'
import {podAddrReplace} from '#net/ip.js'
import {int2ip} from '#net/ipv4.js'
import {labsRoot} from '#host/paths.js'
import {parseNetworkPolicy, type PolicySpec} from '#policy/networkpolicy.js'
import {type ManualRule, type PolicyPod} from '#policy/resolve.js'
import type {AddressedPod, CheckPod} from '#checks/check-pods.js'
import {ipv4Tcp, ipv6Udp} from '#bpf/frames.js'
import {eventsDuring, monotonicNs, type EventsSoFar} from '#observe/flow-feed.js'
import {handshakeDrops, handshakeKernelDrops} from '#observe/handshake-drops.js'
import {KernelDropTracer, type KernelDrop} from '#bpf/kernel-drops.js'
import {FlowNamer, type Flow} from '#observe/flow-names.js'
import {flowLine} from '#observe/flow-line.js'
// Lab 4's checks: the learner's programs enforce what the policy layer writes. Crafted frames
// first (no pods: each frame goes through xdp_prog as at the sender's veth, then to_pod as at
// the receiver's), then real pods: HTTP, UDP and TCP counted where they arrive, a spoof attempt,
// a pod made before the program, a controller that follows pods, and the identity design's sizes.

/** The original workshop's policy: httpbin accepts only app=sleep. */
export const originalPolicy = () =>
  parseNetworkPolicy(readFileSync(join(labsRoot(), '04-security-policy/policy.yaml'), 'utf8'), 'policy.yaml')

/**
 * HTTP from one check pod to another. When a drop is expected, the probe proves its own request's
 * fate from the two pods' counters (requestFate): never from the shared drop counter, which any
 * other drop raises too (IPv6 from a new pod). `ok` is true when the request got through to the
 * server, answered or not; a request the busy machine never sent is no verdict. With ctx, the
 * programs' report of the probe's own handshake, corroborated (provenDrop), proves a drop at once;
 * without a report (no ring, or a drop not returned through tc_drop/xdp_drop) the retransmission
 * does, or the kernel's record of the drop once the run knows its programs do not report theirs
 * (watchKernelDrops), and the detail says that nothing was reported (`fate`: what became of it,
 * without that).
 */
export async function http(
  from: CheckPod,
  to: CheckPod,
  expectOk: boolean,
  ctx?: Lab4Context,
): Promise<{ok: boolean; detail: string; flows?: Flow[]; fate?: string}> {
  const url = `http://${to.ip}/get`
  // Drops of this request only: what the kernel saw before it started was another request's.
  const witness = (soFar: EventsSoFar) => {
    const since = monotonicNs()
    return () => provenDrop(ctx!, soFar, from, to, 80, since)
  }
  // With ctx, the proving request runs under the flow events, quoted when the outcome is not the expected one.
  const fate = async (timeoutS = 15) => {
    if (!ctx) return {result: await requestFate(from.netnsPath, to.netnsPath, url, timeoutS), seen: undefined}
    await kernelDropsWhenUnreported(ctx)
    const judged = await flowsDuring(ctx, (soFar) =>
      requestFate(from.netnsPath, to.netnsPath, url, timeoutS, witness(soFar)),
    )
    // Dropped, and the programs reported no drop of it: they will not report the run's next ones either.
    if (judged.result.fate === 'dropped' && !both(judged.seen).some((f) => f.verdict === 'DROPPED'))
      await watchKernelDrops(ctx)
    return judged
  }
  const said = (seen?: SeenFlows) =>
    seen ? `; observe saw: ${quoteFlows(flowsBetween(seen, from.ip ?? '', to.ip ?? '', true))}` : ''
  const both = (seen?: SeenFlows) => flowsBetween(seen, from.ip ?? '', to.ip ?? '', true)
  if (expectOk) {
    const first = ctx
      ? await flowsDuring(ctx, (soFar) => httpGetWatched(from.netnsPath, url, 3, witness(soFar)))
      : {result: await httpGet(from.netnsPath, url, 3), seen: undefined}
    const r = first.result
    if (r.ok) return r
    // The programs reported dropping this request's handshake, and do drop it: that is its fate.
    if ('proven' in r && r.proven)
      return {
        ...r,
        detail: `HTTP GET ${url} from ${from.ip}: ${r.proven.detail}${said(first.seen)}`,
        flows: both(first.seen),
      }
    // Say what became of it, not how wget died: a second request, judged by the pods' counters.
    const seen = /did not finish within/.test(r.detail)
      ? 'no answer within 3 s'
      : r.detail.replace(/nsenter \S+ busybox /, '')
    const again = await fate(5)
    return {
      ...r,
      detail: `HTTP GET ${url} from ${from.ip}: ${seen}; a second request: ${again.result.detail}${again.result.fate === 'dropped' ? unreported(again.seen, both(again.seen)) : said(again.seen)}`,
      // What the programs reported of the second request, both ways: which end dropped it.
      flows: both(again.seen),
    }
  }
  const {result: f, seen} = await fate()
  if (f.fate === 'not-sent') throw new CheckSkip(`HTTP GET ${url} from ${from.ip}: ${f.detail}`)
  const dropped = f.fate === 'dropped'
  const what = `HTTP GET ${url} from ${from.ip}: ${f.detail}`
  return {ok: !dropped, detail: `${what}${dropped ? unreported(seen, both(seen)) : said(seen)}`, fate: what}
}

/**
 * A TCP connect from one check pod to another's port, ended as soon as its SYN is proven dropped
 * (provenDrop); otherwise it takes what tcpConnect takes (connected, refused, or `timeoutS`).
 */
export async function connectUnlessDropped(
  ctx: Lab4Context,
  from: CheckPod,
  to: CheckPod,
  port: number,
  timeoutS: number,
): Promise<ProbeResult & {proven?: RequestFate}> {
  await kernelDropsWhenUnreported(ctx)
  const {result} = await flowsDuring(ctx, (soFar) => {
    const since = monotonicNs()
    return watchedProbe(
      (signal) => tcpConnect(from.netnsPath, to.ip ?? '', port, timeoutS, signal),
      () => provenDrop(ctx, soFar, from, to, port, since),
    )
  })
  return result
}

/**
 * What a dropped probe's detail adds of the programs' report: nothing when they reported a drop
 * of it (the detail already says how it is known); that they reported none when the slow proof
 * had to decide, with what they did report.
 */
function unreported(seen: SeenFlows | undefined, mine: Flow[]): string {
  if (!seen) return '; your programs reported no event (no flow_events ring is pinned: keep #include "ebpfcni_flow.h")'
  if (mine.some((f) => f.verdict === 'DROPPED')) return ''
  return `; your programs reported no drop of it (a drop returned as XDP_DROP or TC_ACT_SHOT, not through xdp_drop/tc_drop, is not reported; observe saw: ${quoteFlows(mine)})`
}

/**
 * The fate of a probe's TCP handshake from `from` to `to`:`dport`, when the programs reported it
 * and it holds: a DROPPED event for the probe's own SYN, or the server's SYN-ACK back to it
 * (handshakeDrops), and the reporting program returning its drop code (XDP_DROP, TC_ACT_SHOT) for
 * that very packet in a test run over the same maps, which also predicts every retransmission.
 * An event alone is not enough: a helper can report a drop and return something else (XDP_DROP
 * from to_pod goes on). Without such a report, the kernel's record of that packet's drop, where
 * the run watches the kernel (kernelDropProof), corroborated the same way. undefined: not proven,
 * the caller's slower proof decides. `since`: when the probe started (monotonic ns); the kernel's
 * drops before it are not its own.
 */
export async function provenDrop(
  ctx: Lab4Context,
  soFar: EventsSoFar,
  from: CheckPod,
  to: CheckPod,
  dport: number,
  since = 0n,
): Promise<RequestFate | undefined> {
  if (!from.ip || !to.ip) return undefined
  const client = {netnsPath: from.netnsPath, ip: from.ip}
  for (const {event: e, request, port} of await handshakeDrops(soFar, client, {ip: to.ip}, dport)) {
    const program = e.direction === 'from-pod' ? 'xdp_prog' : 'to_pod'
    const code = program === 'xdp_prog' ? 'XDP_DROP' : 'TC_ACT_SHOT'
    const frame = request ? ipv4Tcp(from.ip, to.ip, dport, port) : ipv4Tcp(to.ip, from.ip, port, dport, 'syn-ack')
    let how: string
    try {
      how = ctx.policy.path([frame])[0].how
    } catch {
      continue
    }
    if (!how.startsWith(`${code} `) || !how.endsWith(`(${program})`)) continue
    const what = `${program} reported DROPPED (${e.reason.name}) for ${request ? 'its SYN' : "the server's SYN-ACK"} from port ${e.sport}, and returns ${code} for that packet`
    return request
      ? {fate: 'dropped', detail: `${what}: the request never reached the server`}
      : {fate: 'reached', detail: `the SYN reached the server; ${what}: no answer came back`}
  }
  return kernelDropProof(ctx, from, to, dport, since)
}

/** The kernel's drops (TCP handshake packets only) that a run's tracer keeps, and the tracer. */
interface KernelDrops {
  drops: KernelDrop[]
  tracer: KernelDropTracer
}

/** A run's kernel watch, by its policy fixture (one per run); absent until the run needs it. */
const kernelWatch = new WeakMap<object, Promise<KernelDrops | undefined>>()

/** The handshake drops kept at most: the host's namespace may drop far more than the probes send. */
const KERNEL_DROPS_KEPT = 4096

/**
 * Watch the packets the kernel drops in the host's namespace, where the pods' veths are (ebpfcni's
 * kernel-drop tracer on kfree_skb), for the rest of the run: a TC program's TC_ACT_SHOT is freed
 * there with reason TC_EGRESS. It proves a drop at once when the learner's programs report none
 * (no ring, or TC_ACT_SHOT returned directly), where only the retransmission would otherwise. It
 * is started once the run needs it, not before: loading it costs the reference a few hundred ms.
 * undefined: this kernel cannot (no BTF, no drop reasons); the retransmission decides.
 */
function watchKernelDrops(ctx: Lab4Context): Promise<KernelDrops | undefined> {
  let watch = kernelWatch.get(ctx.policy)
  if (!watch) {
    watch = (async () => {
      const drops: KernelDrop[] = []
      const keep = (d: KernelDrop) => {
        if (d.proto !== 'TCP' || (d.tcpFlags !== 'SYN' && d.tcpFlags !== 'SYN ACK')) return
        drops.push(d)
        if (drops.length > KERNEL_DROPS_KEPT) drops.splice(0, drops.length - KERNEL_DROPS_KEPT)
      }
      try {
        const tracer = await KernelDropTracer.start(keep, () => undefined)
        ctx.policy.pods.onCleanup('before-pods', () => tracer.stop())
        tracer.setScopes([{netns: statSync('/proc/self/ns/net').ino, ifindex: 0}])
        return {drops, tracer}
      } catch {
        return undefined
      }
    })()
    kernelWatch.set(ctx.policy, watch)
  }
  return watch
}

/** With no flow_events ring pinned, nothing is reported: watch the kernel before the probe starts. */
async function kernelDropsWhenUnreported(ctx: Lab4Context): Promise<void> {
  if (!existsSync(join(ctx.pinned.pinDir(), 'flow_events'))) await watchKernelDrops(ctx)
}

/**
 * provenDrop's second witness: the kernel dropped the probe's own SYN (or the server's SYN-ACK back
 * to it) at a TC egress hook (TC_EGRESS) since the probe started, and to_pod returns TC_ACT_SHOT for
 * that very packet in a test run over the same maps. undefined when the run does not watch the
 * kernel, or saw no such drop.
 */
async function kernelDropProof(
  ctx: Lab4Context,
  from: CheckPod,
  to: CheckPod,
  dport: number,
  since: bigint,
): Promise<RequestFate | undefined> {
  const watching = kernelWatch.get(ctx.policy)
  const watch = watching && (await watching)
  if (!watch || !from.ip || !to.ip) return undefined
  watch.tracer.consume()
  const fresh = watch.drops.filter((d) => d.tsNs >= since && d.reason === 'TC_EGRESS')
  const client = {netnsPath: from.netnsPath, ip: from.ip}
  for (const {drop, request, port} of await handshakeKernelDrops(fresh, client, {ip: to.ip}, dport)) {
    const frame = request ? ipv4Tcp(from.ip, to.ip, dport, port) : ipv4Tcp(to.ip, from.ip, port, dport, 'syn-ack')
    let verdict: PathVerdict
    try {
      verdict = ctx.policy.path([frame])[0]
    } catch {
      continue
    }
    // TC_ACT_SHOT from to_pod: `dropped` at to_pod means exactly that (never the text of `how`).
    if (!verdict.dropped || verdict.at !== 'to_pod') continue
    const what = `the kernel dropped ${request ? 'its SYN' : "the server's SYN-ACK"} from port ${drop.sport} at a TC egress hook (${drop.reason}), and to_pod returns TC_ACT_SHOT for that packet`
    return request
      ? {fate: 'dropped', detail: `${what}: the request never reached the server`}
      : {fate: 'reached', detail: `the SYN reached the server; ${what}: no answer came back`}
  }
  return undefined
}

/**
 * Fixtures made at the same time: the pods of one check ADD concurrently, as a runtime's would (the
 * plugin locks its address allocation; lab 1's production step checks it), each one's wait beside
 * the others' rather than after them. Every one is awaited before a failure is thrown (the first,
 * e.g. a CheckSkip), so none is still being made when the check ends.
 */
export async function alongside<T extends unknown[]>(...made: {[K in keyof T]: Promise<T[K]>}): Promise<T> {
  const settled = await Promise.allSettled(made)
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) throw failed.reason
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as T
}

export async function clientAndServer(ctx: Lab4Context): Promise<[AddressedPod, AddressedPod]> {
  const svc = await ctx.policy.service()
  const [a, b] = await alongside(
    ctx.policy.labelledPod('httpbin', {app: 'httpbin'}),
    ctx.policy.labelledPod('sleep', {app: 'sleep'}),
  )
  // Each check starts from no rules and no policies of its own.
  for (const r of svc.store.read().rules) svc.store.removeRule(r.from, r.to)
  for (const n of Object.keys(svc.store.read().policies)) svc.store.deletePolicy(n)
  await svc.sync()
  const before = await http(b, a, true)
  if (!before.ok) throw new CheckSkip(`needs sleep → httpbin to work without rules first (${before.detail})`)
  return [a, b]
}

export type Expect = 'pass' | 'drop'

/** Fail unless the loaded object has one of these maps, naming the maps it has. */
export async function requireMap(ctx: Lab4Context, names: string[], what: string, hint?: string): Promise<void> {
  const d = await ctx.pinned.deployed()
  if (!d.maps.some((m) => names.includes(m.name)))
    fail(`your program has no ${what}; its maps: ${d.maps.map((m) => m.name).join(', ') || 'none'}`, hint)
}

/** Send each [what, frame, expected] along the pod-to-pod path; fail naming every mismatch. */
export function expectPath(ctx: Lab4Context, cases: Array<[string, Buffer, Expect]>, hint?: string): void {
  const got = ctx.policy.path(cases.map(([, f]) => f))
  const wrong = cases.flatMap(([what, , want], i) =>
    (got[i].dropped ? 'drop' : 'pass') === want
      ? []
      : [`${what}: ${got[i].how}, expected ${want === 'drop' ? 'a drop' : 'to pass'}`],
  )
  // 1 from a TC program is XDP_DROP's value: whatever the step's hint says, that is the cause.
  const xdpDropInTc = wrong.some((w) => w.includes('TC_ACT_RECLASSIFY'))
  if (wrong.length)
    fail(wrong.join('; '), xdpDropInTc ? XDP_DROP_IN_TC_HINT : hint, xdpDropInTc ? XDP_DROP_IN_TC : undefined)
}

const XDP_DROP_IN_TC_HINT =
  "to_pod returned 1, XDP_DROP's value: TC takes it as TC_ACT_RECLASSIFY (unspecified) and the packet goes on. Drop with tc_drop(skb, REASON_…) (TC_ACT_SHOT), not a bare XDP_DROP"

/** to_pod drops with XDP_DROP's value: the checks of a run that fail from it say so after the first. */
const XDP_DROP_IN_TC: CheckCause = {key: 'to-pod-returns-xdp-drop', summary: XDP_DROP_IN_TC_HINT}

/**
 * A drop that did not happen on real pods, when to_pod returns 1 (XDP_DROP's value) where it
 * drops, follows from that: fail saying so, not blaming a rule, the controller or the agent.
 * The evidence is to_pod's own verdict on a frame of the same pair, and on IPv6 (always dropped).
 */
export function failIfXdpDropInTc(ctx: Lab4Context, what: string, from: string, to: string): void {
  const frames: Array<[string, Buffer]> = [
    [`${from} → ${to} TCP 80`, ipv4Tcp(from, to, 80, 43999)],
    ['IPv6 UDP fe80::a → fe80::b port 9999', ipv6Udp(9999)],
  ]
  const got = ctx.policy.path(frames.map(([, f]) => f))
  const i = got.findIndex((v) => v.how.includes('TC_ACT_RECLASSIFY'))
  if (i >= 0)
    fail(
      `${what}. This follows from to_pod's verdict, not from a rule: a crafted ${frames[i][0]} got ${got[i].how}, 1 (XDP_DROP's value), which TC takes as unspecified, so the packet goes on`,
      `${XDP_DROP_IN_TC_HINT}; fix that first, then check again`,
      XDP_DROP_IN_TC,
    )
}

const ISOLATED_FIRST_HINT =
  'in to_pod, ask the rules first (the pair in policy, then the port in policy_ports) and isolated last: it decides only for a packet no rule matched'

/** to_pod asks `isolated` before the rules: every allowed packet to a selected pod is dropped. */
export const ISOLATED_FIRST: CheckCause = {
  key: 'to-pod-isolated-first',
  summary: `to_pod decides by \`isolated\` before it asks the rules; ${ISOLATED_FIRST_HINT}`,
}

/** policy.ports' message when the allowed frames it crafted were dropped because `isolated` came first. */
export function failIsolatedBeforeRules(what: string): never {
  fail(`${what}: to_pod decides by \`isolated\` before it asks the rules`, ISOLATED_FIRST_HINT, ISOLATED_FIRST)
}

/**
 * Allowed traffic dropped on real pods, when to_pod asks `isolated` before the rules, follows from
 * that: fail saying so, not blaming the port key, conntrack, the controller or the agent. The
 * evidence is to_pod's own verdict on crafted frames to an isolated pod that a port rule, and a
 * rule for the whole pair, allow: both dropped at to_pod.
 */
export async function failIfIsolatedBeforeRules(ctx: Lab4Context, what: string): Promise<void> {
  const pods: PolicyPod[] = [
    {name: 'order-client', ip: '10.250.4.1', labels: {role: 'order-client'}},
    {name: 'order-server', ip: '10.250.4.2', labels: {role: 'order-server'}},
    {name: 'order-other', ip: '10.250.4.3', labels: {}},
  ]
  const [c, srv, o] = pods.map((p) => p.ip)
  const web: PolicySpec = {
    name: 'order-server-tcp-80',
    podSelector: {role: 'order-server'},
    ingress: [{from: [{role: 'order-client'}], ports: [{protocol: 'TCP', port: 80}]}],
  }
  const dropped = await withPretendPods(
    ctx,
    pods,
    [web],
    () => ctx.policy.path([ipv4Tcp(c, srv, 80, 44000), ipv4Tcp(o, srv, 80, 44001)]),
    [{from: 'order-other', to: 'order-server', verdict: 'allow'}],
  )
  if (dropped.every((v) => v.dropped && v.how.includes('(to_pod)')))
    failIsolatedBeforeRules(
      `${what}. This follows from the order of to_pod's decisions: crafted frames to an isolated pod that a port rule allows (TCP 80), and that a rule for the whole pair allows, were both dropped (${dropped[0].how})`,
    )
}

/** Pretend pods for frame checks: in the policy layer's pod list for the duration of `body`, then gone. */
export async function withPretendPods<T>(
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
export function describePortKey(k: Buffer): string {
  if (k.length < 12) return k.toString('hex')
  const ip = (o: number) => int2ip(k.readUInt32BE(o))
  const hex = [...k].map((b) => b.toString(16).padStart(2, '0')).join(' ')
  return `[${hex}] = {src ${ip(0)}, dst ${ip(4)}, dport bytes ${k.subarray(8, 10).toString('hex').replace(/(..)/, '$1 ')} (${k.readUInt16BE(8)}), proto ${k[10]}, pad ${k[11]}}`
}

/** conntrack keys for UDP to port 9999 from `src` to `dst` (struct ct_key: saddr, daddr, sport, dport, proto, pad). */
export function spoofFlows(ctx: Lab4Context, src: string, dst: string): Buffer[] {
  const ip = (k: Buffer, o: number) => int2ip(k.readUInt32BE(o))
  return ctx.policy
    .mapKeys('conntrack')
    .filter(
      (k) => k.length >= 13 && ip(k, 0) === src && ip(k, 4) === dst && k.readUInt16BE(10) === 9999 && k[12] === 17,
    )
}

/** Lab 3's counter for an address (0 when absent or when the counter map is not there). */
export function sleepCount(ctx: Lab4Context, ip: string): bigint {
  try {
    return readCounterMap(ctx.pinned.counterPin()).counts.get(ip) ?? 0n
  } catch {
    return 0n
  }
}

/** A policy that selects pods and admits nothing: they are isolated. */
export const isolate = (name: string, selector: Record<string, string>): PolicySpec => ({
  name,
  podSelector: selector,
  ingress: [],
})

/** What arrives at a pod while `send` runs (UDP datagrams and TCP segments, IPv4 and IPv6). */
export async function arrivedDuring(pod: CheckPod, send: () => Promise<unknown>): Promise<{udp: number; tcp: number}> {
  const before = await arrivals(pod.netnsPath)
  await send()
  const after = await arrivals(pod.netnsPath)
  return {udp: after.udp - before.udp, tcp: after.tcp - before.tcp}
}

/**
 * IPv6 link-local addresses for an IPv6 probe from one pod to another, usable at once: added
 * without duplicate address detection (nodad), where each pod's own fe80:: address stays
 * tentative (unusable, as a destination and as a source) for 1-2 s after the pod is made. Not
 * EUI-64 shaped, so no pod's own address is the same. The receiver's, or undefined when either
 * pod takes no IPv6 address.
 */
export async function linkLocalPair(from: CheckPod, to: CheckPod): Promise<string | undefined> {
  const [sender, receiver] = ['fe80::ebcf:4:1', 'fe80::ebcf:4:2']
  const added = await Promise.all([
    podAddrReplace(from.netnsPath, 'eth0', `${sender}/64`, {nodad: true}),
    podAddrReplace(to.netnsPath, 'eth0', `${receiver}/64`, {nodad: true}),
  ])
  return added.every(Boolean) ? receiver : undefined
}

export const UDP_PROBES = 20

/** What a check saw of the flow events while it ran: named flows, and events lost meanwhile. */
export interface SeenFlows {
  flows: Flow[]
  lost: bigint
}

/**
 * Collect the flow events the learner's programs report while `body` runs (as `ebpfcni observe`
 * shows them; through a running observe when there is one). undefined: no flow_events ring is
 * pinned, so there is nothing to quote.
 */
export async function flowsDuring<T>(
  ctx: Lab4Context,
  body: (soFar: EventsSoFar) => Promise<T>,
): Promise<{result: T; seen?: SeenFlows}> {
  const svc = await ctx.policy.service()
  // The events are named after body, all at once: one read of the pods, links and store (at the
  // first name) serves them all; reading them again per event (refreshMs 0) named nothing
  // differently and cost ~200 reads of /sys/class/net and the store per step under load.
  const namer = new FlowNamer(
    {pods: () => ctx.policy.podSource.list(), policyState: () => svc.store.read()},
    Number.POSITIVE_INFINITY,
  )
  const {result, events, lost} = await eventsDuring(ctx.pinned.pinDir(), body)
  return events ? {result, seen: {flows: events.map((e) => namer.name(e)), lost: lost ?? 0n}} : {result}
}

/** The flows between two addresses (either direction when `both`), as observe's lines without colour. */
export function flowsBetween(seen: SeenFlows | undefined, src: string, dst: string, both = false): Flow[] {
  return (seen?.flows ?? []).filter(
    (f) => (f.src.ip === src && f.dst.ip === dst) || (both && f.src.ip === dst && f.dst.ip === src),
  )
}

/** A few flows quoted for a message: distinct decisions, the first of each. */
export function quoteFlows(flows: Flow[], max = 3): string {
  const seen = new Map<string, Flow>()
  for (const f of flows) {
    const k = `${f.program}/${f.verdict}/${f.reason}/${f.src.ip}>${f.dst.ip}`
    if (!seen.has(k)) seen.set(k, f)
  }
  const lines = [...seen.values()].slice(0, max).map((f) => flowLine(f, {color: false, time: false}))
  return lines.length ? lines.join('; ') : 'no flow event'
}

/**
 * Whether to_pod drops a frame that a rule for its whole pair allows, towards an isolated pod: the
 * rule is never asked, because `isolated` decided first (the pair lookup itself is step deny's).
 */
export async function isolatedBeforeRules(ctx: Lab4Context, from: string, to: string, frame: Buffer): Promise<boolean> {
  return withPretendPods(ctx, [], [], () => ctx.policy.path([frame])[0].dropped, [{from, to, verdict: 'allow'}])
}
