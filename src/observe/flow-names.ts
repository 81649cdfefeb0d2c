import {readdirSync, statSync} from 'node:fs'
import {basename, join} from 'node:path'
import {mountPointOf} from '../host/mounts.js'
import {linksByIndex} from '../net/ip.js'
import type {Direction, FlowEvent} from '../bpf/flow-events.js'
import {matches, type PolicySpec, type PortRule} from '../policy/networkpolicy.js'
import {labelsKey, type ManualRule, type PolicyPod} from '../policy/resolve.js'
import type {PolicyState} from '../policy/store.js'
import {versionAt, type PolicyVersion} from '../policy/history.js'
import type {PodLife} from '../host/pod-history.js'

// From a datapath event to what a person reads: pod names and labels instead of addresses, and
// which rule or NetworkPolicy decided. The datapath knows only the reason and the tuple; the
// policy store knows which policy produced which rule, so the decision is named here, as Hubble
// names a policy from the verdict Cilium's datapath reports. For a drop by isolation, the nearest
// rule that did not match is named: the policy's port, or its peer.

/** One end of a flow as observe prints it: the pod when the address is one. */
export interface FlowEnd {
  ip: string
  port: number
  pod?: string
  labels?: Record<string, string>
  /** The pod's identity in the identity design (lab 4 step identity): one number per label set. */
  identity?: number
  /** A pod held this address at some time, but no record says which one did when the flow happened. */
  podUnknown?: true
}

/** A flow event with names: the NDJSON object `observe --json` prints (docs/observe.md). */
export interface Flow {
  /** ISO 8601 wall-clock time. */
  time: string
  verdict: FlowEvent['verdict']
  /** The reason's name ("isolated") and text ("isolated, no rule allows it"). */
  reason: string
  reasonText: string
  /**
   * from-pod: the pod sent it (xdp_prog; lab 5: from_pod); to-pod: it was on its way into the pod
   * (to_pod; lab 5: from_node).
   */
  direction: Direction
  program: FlowProgram
  proto: string
  tcpFlags: string
  src: FlowEnd
  dst: FlowEnd
  ifindex: number
  /** The interface the program ran on (the pod's host veth), when it still exists. */
  interface?: string
  /** observe --kernel: the namespace the kernel dropped it in ("pod sleep", "node a", "host"). */
  namespace?: string
  /** The rule or NetworkPolicy that decided ("policy httpbin-from-sleep", "rule deny sleep → httpbin"). */
  policy?: string
  /** For a drop by isolation: the nearest rule that did not match, in words. */
  nearMiss?: string
  /** A check run's own traffic: the check that made its pod ("4/policy.isolated"). */
  check?: string
  /**
   * What the events show the program really returned, when it is not what it reported: a SYN
   * to_pod reported DROPPED that its pod answered all the same.
   */
  returned?: string
  /**
   * TRANSLATED (lab 6): src is the Service's VIP and port the socket asked for, dst the backend it
   * got. The socket's cgroup (v2, under its mount point) and the pod it is named after.
   */
  socket?: {cgroupId: number; cgroup?: string; pod?: string}
}

/** What a deny or allow is credited to when the store held no rule or policy behind it at the time. */
export const UNKNOWN_RULE = 'rule unknown: none in the store at the time'
/** A deny or allow whose pair had only the opposite rule in the store at the time (a stale read, or the program's mistake). */
const OPPOSITE_RULE = /^no (deny|allow) rule in the store at the time/
export const oppositeRule = (reason: string, r: ManualRule): string =>
  `no ${reason === 'denied' ? 'deny' : 'allow'} rule in the store at the time: it held rule ${r.verdict} ${r.from} → ${r.to}`
/** An isolated drop of a packet that a rule in the store allowed at the time: the program's mistake, or a stale map. */
export const ISOLATED_THOUGH_ALLOWED = 'isolated, though a rule in the store allows it'
const HELD_ALLOW = 'the store held an allow for this packet at the time'
/** What a decision is credited to when no version of the policy store covers the flow's time. */
export const NO_POLICY_RECORD = 'rule unknown: no record of the policy store at that time'
/** A check's flow was decided by the check's own rules, never the attendee's store. */
export const CHECK_RULES = "the check's own rules (not in your store)"

/** What was true over time: pods' lives (deleted pods too) and the policy store's versions. */
export interface NamingHistory {
  lives: PodLife[]
  versions: PolicyVersion[]
}

/** A drop the kernel did not make: the program reported DROPPED but returned another value. */
export const NOT_A_DROP = (program: string): string =>
  `${program} reported DROPPED for this connection's SYN, and its pod answered it: ${program} returned something other than TC_ACT_SHOT (XDP_DROP is 1, TC_ACT_RECLASSIFY, which cls_bpf treats as unspecified and goes on)`
/** How long after a reported drop an answer proves the SYN went through. */
const ANSWER_MS = 10_000

/** Reasons a rule or policy is behind. */
const DECIDED = new Set(['denied', 'allowed', 'port-denied', 'port-allowed', 'isolated'])

/** kernel: the kernel itself dropped it (observe --kernel: skb:kfree_skb with its drop reason). */
export type FlowProgram = 'xdp_prog' | 'to_pod' | 'from_pod' | 'from_node' | 'kernel' | 'connect4'

/** The program that reports each direction: lab 4's, and a lab 5 node's (forward.bpf.c). */
const LAB4_PROGRAMS: Record<Direction, FlowProgram> = {'from-pod': 'xdp_prog', 'to-pod': 'to_pod'}
export const NODE_PROGRAMS: Record<Direction, FlowProgram> = {'from-pod': 'from_pod', 'to-pod': 'from_node'}

export interface NamingSources {
  pods: () => PolicyPod[]
  policyState: () => PolicyState
  /** ifindex -> name where the programs run (default: this network namespace's links). */
  links?: () => Map<number, string>
  /** Default: lab 4's. */
  programs?: Record<Direction, FlowProgram>
  /**
   * What was true when: with it, a flow is named with the pods and the policy store of its own
   * time (today's pods count as lives from their creation on); without it, with today's.
   */
  history?: () => NamingHistory
  /** cgroup id -> its path under the cgroup v2 mount (default: found by walking the mount). */
  cgroups?: (id: number) => string | undefined
}

/** One end's pod at the flow's time: the pod, a check's pod, or "a pod held it, but which is unknown". */
interface PodAt {
  pod?: PolicyPod
  check?: string
  unknown?: true
}

const describeLabels = (l: Record<string, string>): string =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',') || 'no labels'

const portText = (p: PortRule): string => `${p.protocol} ${p.port}`

/** Whether an ingress rule's `from` admits the sender (no `from`: everyone). */
const peerAdmits = (from: Record<string, string>[] | undefined, src?: PolicyPod): boolean =>
  from === undefined || (!!src && from.some((sel) => matches(sel, src.labels)))

/** Whether an ingress rule's `ports` admit the event's port (no `ports`: every port). */
const portAdmits = (ports: PortRule[] | undefined, e: FlowEvent): boolean =>
  ports === undefined || ports.some((p) => p.port === e.dport && p.protocol === e.proto)

/** Whether a manual rule's end (pod name or address) is this pod or address. */
const ruleEnd = (end: string, ip: string, pod?: PolicyPod): boolean => end === ip || (!!pod && end === pod.name)

/**
 * A cgroup (v2) by its id (the cgroup directory's inode number, as bpf_get_current_cgroup_id()
 * gives it; the low 32 bits compared): its path under the mount, found by walking the mount's
 * first levels, remembered once found.
 */
export function cgroupPathFinder(maxDepth = 4): (id: number) => string | undefined {
  const known = new Map<number, string>()
  return (id) => {
    if (known.has(id)) return known.get(id)
    const root = mountPointOf('cgroup2')
    if (!root) return undefined
    const walk = (dir: string, depth: number): string | undefined => {
      let entries
      try {
        entries = readdirSync(dir, {withFileTypes: true})
      } catch {
        return undefined // gone meanwhile
      }
      for (const d of entries) {
        if (!d.isDirectory()) continue
        const path = join(dir, d.name)
        try {
          if (Number(BigInt(statSync(path, {bigint: true}).ino) & 0xffffffffn) === id) return path
        } catch {
          continue
        }
        const below = depth < maxDepth ? walk(path, depth + 1) : undefined
        if (below) return below
      }
      return undefined
    }
    const found = walk(root, 1)
    if (found) known.set(id, `/${found.slice(root.length).replace(/^\/+/, '')}`)
    return found ? known.get(id) : undefined
  }
}

export class FlowNamer {
  private pods: PolicyPod[] = []
  private links = new Map<number, string>()
  private state?: PolicyState
  private history?: NamingHistory
  /** The history's lives by address (a flow asks for two addresses; the history may hold thousands of lives). */
  private livesByIp = new Map<string, PodLife[]>()
  private readAt = 0
  /** bpf_ktime_get_ns's clock when the sources were last read: an event after it may need newer ones. */
  private readAtNs = 0n
  /** TCP SYNs the receiver's program reported DROPPED ("src:sport>dst:dport" -> ms), and those answered since. */
  private readonly droppedSyns = new Map<string, number>()
  private readonly leaked = new Set<string>()
  /** wall-clock ms minus monotonic ms: turns bpf_ktime_get_ns into a time of day. */
  private readonly wallOffsetMs = Date.now() - Number(process.hrtime.bigint() / 1_000_000n)
  private readonly cgroupPath: (id: number) => string | undefined

  constructor(
    private readonly sources: NamingSources,
    private readonly refreshMs = 1000,
  ) {
    this.cgroupPath = sources.cgroups ?? cgroupPathFinder()
  }

  private refresh(force = false): void {
    if (!force && this.readAt && Date.now() - this.readAt < this.refreshMs) return
    this.readAt = Date.now()
    this.readAtNs = process.hrtime.bigint()
    try {
      this.pods = this.sources.pods()
    } catch {
      this.pods = []
    }
    this.links = this.sources.links?.() ?? linksByIndex()
    try {
      this.state = this.sources.policyState()
    } catch {
      this.state = undefined // an unreadable store names no rule
    }
    try {
      this.history = this.sources.history?.()
    } catch {
      this.history = this.sources.history ? {lives: [], versions: []} : undefined // unreadable: nothing is known
    }
    this.livesByIp = new Map()
    for (const l of this.history?.lives ?? []) this.livesByIp.set(l.ip, [...(this.livesByIp.get(l.ip) ?? []), l])
  }

  name(e: FlowEvent): Flow {
    const f = this.nameOnce(e)
    const returned = this.whatReturned(e, Date.parse(f.time))
    return returned ? {...f, returned} : f
  }

  /**
   * The events cannot carry a program's return value, but they can contradict a verdict: a SYN the
   * receiver's program reported DROPPED, then answered by its pod (the pod's own program sees the
   * SYN ACK leave), was not dropped. That answer, and the rest of that connection, say so.
   */
  private whatReturned(e: FlowEvent, ms: number): string | undefined {
    if (e.proto !== 'TCP' || !e.src) return undefined
    const key = `${e.src}:${e.sport}>${e.dst}:${e.dport}`
    const reverse = `${e.dst}:${e.dport}>${e.src}:${e.sport}`
    const program = (this.sources.programs ?? LAB4_PROGRAMS)['to-pod']
    if (e.direction === 'to-pod' && e.verdict === 'DROPPED' && e.tcpFlags === 'SYN') {
      if (this.droppedSyns.size > 4096) this.droppedSyns.clear()
      this.droppedSyns.set(key, ms)
      return undefined
    }
    // A retransmitted SYN that to_pod passed (a rule changed meanwhile) is what the answer answers.
    if (e.direction === 'to-pod' && e.tcpFlags === 'SYN') this.droppedSyns.delete(key)
    if (this.leaked.has(key)) return NOT_A_DROP(program)
    const dropped = this.droppedSyns.get(reverse)
    if (
      e.direction === 'from-pod' &&
      dropped !== undefined &&
      ms - dropped <= ANSWER_MS &&
      e.tcpFlags.includes('SYN')
    ) {
      if (this.leaked.size > 4096) this.leaked.clear()
      this.leaked.add(reverse)
      this.leaked.add(key)
      return NOT_A_DROP(program)
    }
    return undefined
  }

  private nameOnce(e: FlowEvent): Flow {
    this.refresh()
    const named = this.nameNow(e)
    // A rule (or pod) written a moment before its first packet is not in a snapshot read before that
    // packet: read again, once, rather than name nothing or something else.
    const unknown =
      named.policy === UNKNOWN_RULE ||
      named.policy === NO_POLICY_RECORD ||
      OPPOSITE_RULE.test(named.policy ?? '') ||
      named.src.podUnknown ||
      named.dst.podUnknown
    if (unknown && e.tsNs > this.readAtNs) {
      this.refresh(true)
      return this.nameNow(e)
    }
    return named
  }

  /** The pod at `ip` when the flow happened (`ms`): from the history when there is one, else today's. */
  private podAt(ip: string, ms: number): PodAt {
    const h = this.history
    if (!h) {
      const pod = this.pods.find((p) => p.ip === ip)
      return pod ? {pod} : {}
    }
    // Today's pods are lives too, from their creation on (a pod made before the history was kept).
    const lives = this.livesByIp.get(ip) ?? []
    let best: PodLife | undefined
    for (const l of lives)
      if (l.from <= ms && (l.until === undefined || ms <= l.until) && (!best || l.from > best.from)) best = l
    if (best) {
      const pod: PolicyPod = {name: best.name, ip, labels: best.labels}
      return best.check ? {pod, check: best.check} : {pod}
    }
    const held = lives.length > 0 || this.pods.some((p) => p.ip === ip)
    return held ? {unknown: true} : {}
  }

  /** The policy store in force at `ms`: with a history, its version then (none: unknown); else today's. */
  private stateAt(ms: number): PolicyState | undefined {
    if (!this.history) return this.state
    const v = versionAt(this.history.versions, ms)
    return v && {version: 1, nextIdentity: 0, ...v.state}
  }

  private nameNow(e: FlowEvent): Flow {
    const ms = this.wallOffsetMs + Number(e.tsNs / 1_000_000n)
    const [sa, da] = [this.podAt(e.src, ms), this.podAt(e.dst, ms)]
    const [sp, dp] = [sa.pod, da.pod]
    const state = this.stateAt(ms)
    const end = (ip: string, port: number, at: PodAt): FlowEnd => {
      const p = at.pod
      if (!p) return at.unknown ? {ip, port, podUnknown: true} : {ip, port}
      const identity = state?.identities[labelsKey(p.labels)]
      return identity ? {ip, port, pod: p.name, labels: p.labels, identity} : {ip, port, pod: p.name, labels: p.labels}
    }
    const check = sa.check ?? da.check
    const flow: Flow = {
      time: new Date(ms).toISOString(),
      verdict: e.verdict,
      reason: e.reason.name,
      reasonText: e.reason.text,
      direction: e.direction,
      program: (this.sources.programs ?? LAB4_PROGRAMS)[e.direction],
      proto: e.proto,
      tcpFlags: e.tcpFlags,
      src: end(e.src, e.sport, sa),
      dst: end(e.dst, e.dport, da),
      ifindex: e.ifindex,
      interface: this.links.get(e.ifindex),
      ...(check ? {check} : {}),
    }
    if (e.verdict === 'TRANSLATED') {
      // The socket's pod is the one its cgroup is named after (lab 6 names each pod's so; the kubelet uses the pod's UID).
      const cgroup = e.cgroupId === undefined ? undefined : this.cgroupPath(e.cgroupId)
      const pod = cgroup ? basename(cgroup) : undefined
      return {...flow, program: 'connect4', socket: {cgroupId: e.cgroupId ?? 0, cgroup, pod}}
    }
    if (check) return DECIDED.has(e.reason.name) ? {...flow, policy: CHECK_RULES} : flow
    // With a history and no version of the store at the flow's time, the rule is not known: say so.
    if (this.history && !state) return DECIDED.has(e.reason.name) ? {...flow, policy: NO_POLICY_RECORD} : flow
    return {...flow, ...this.decision(e, state, sp, dp)}
  }

  /** Which rule or policy decided, from the reason and the rules and policies stored at the time. */
  private decision(
    e: FlowEvent,
    s: PolicyState | undefined,
    src?: PolicyPod,
    dst?: PolicyPod,
  ): Partial<Pick<Flow, 'policy' | 'nearMiss' | 'reasonText'>> {
    if (!s) return {}
    const policies = Object.values(s.policies).map((p) => p.spec)
    const selecting = dst ? policies.filter((p) => matches(p.podSelector, dst.labels)) : []
    const manual = (verdict: ManualRule['verdict']) =>
      s.rules.find((r) => r.verdict === verdict && ruleEnd(r.from, e.src, src) && ruleEnd(r.to, e.dst, dst))
    const policyWhere = (ok: (p: PolicySpec) => boolean) => selecting.filter(ok).map((p) => p.name)
    switch (e.reason.name) {
      case 'denied':
      case 'allowed': {
        const r = manual(e.reason.name === 'denied' ? 'deny' : 'allow')
        if (r) return {policy: `rule ${r.verdict} ${r.from} → ${r.to}`}
        const names =
          e.reason.name === 'denied'
            ? [] // A NetworkPolicy only allows: a deny came from a hand-written rule, or from none we know of.
            : policyWhere((p) => p.ingress.some((i) => peerAdmits(i.from, src) && i.ports === undefined))
        if (names.length) return {policy: `policy ${names.join(', ')}`}
        // The store held the opposite rule for the pair: say so, not "none" (walked: an ALLOW dropped).
        const opposite = manual(e.reason.name === 'denied' ? 'allow' : 'deny')
        return {policy: opposite ? oppositeRule(e.reason.name, opposite) : UNKNOWN_RULE}
      }
      case 'port-denied':
      case 'port-allowed': {
        const names = policyWhere((p) =>
          p.ingress.some((i) => peerAdmits(i.from, src) && i.ports && portAdmits(i.ports, e)),
        )
        return names.length ? {policy: `policy ${names.join(', ')}`} : {}
      }
      case 'isolated': {
        // The store allowed this very packet: "no rule allows it" would be false, so name the allow
        // it held (walked: a to_pod that passed no pair's ALLOW was shown as "no rule allows it").
        const allow = manual('allow')
        if (allow)
          return {
            reasonText: ISOLATED_THOUGH_ALLOWED,
            policy: `rule allow ${allow.from} → ${allow.to}`,
            nearMiss: HELD_ALLOW,
          }
        const admitting = selecting.flatMap((p) =>
          p.ingress
            .filter((i) => peerAdmits(i.from, src) && portAdmits(i.ports, e))
            .map((i) => ({name: p.name, ports: i.ports})),
        )
        if (admitting.length) {
          const [first] = admitting
          const scope = first.ports ? `${e.proto} ${e.dport}` : 'every port'
          return {
            reasonText: ISOLATED_THOUGH_ALLOWED,
            policy: `policy ${[...new Set(admitting.map((a) => a.name))].join(', ')}`,
            nearMiss: `it admits ${src ? src.name : e.src} on ${scope}; ${HELD_ALLOW}`,
          }
        }
        if (!selecting.length) return {}
        const near = this.nearMiss(selecting, e, src)
        // The policy with the nearest miss first: that is the one to read.
        const names = [near.policy, ...selecting.map((p) => p.name).filter((n) => n !== near.policy)]
        return {policy: `policy ${names.join(', ')}`, nearMiss: near.text}
      }
      default:
        return {}
    }
  }

  /** The rule that came closest: the right peer on another port, or the right port from other peers. */
  private nearMiss(selecting: PolicySpec[], e: FlowEvent, src?: PolicyPod): {policy: string; text: string} {
    for (const p of selecting)
      for (const i of p.ingress)
        if (peerAdmits(i.from, src) && i.ports)
          return {
            policy: p.name,
            text: `allows ${i.ports.map(portText).join(', ')} only; this was ${e.proto} ${e.dport}`,
          }
    for (const p of selecting)
      for (const i of p.ingress)
        if (i.from && portAdmits(i.ports, e))
          return {
            policy: p.name,
            text: `allows ${i.from.map(describeLabels).join(' or ')} only; the sender ${src ? `${src.name} has ${describeLabels(src.labels)}` : `${e.src} is no pod`}`,
          }
    const empty = selecting.find((p) => p.ingress.length === 0)
    return empty
      ? {policy: empty.name, text: 'admits nothing: it has no ingress rule'}
      : {policy: selecting[0].name, text: 'no ingress rule of these policies matches'}
  }
}
