import {isIPv4} from 'node:net'
import {UserError} from '../host/errors.js'
import {matches, type Labels, type PolicySpec, type PortRule} from './networkpolicy.js'

// From pods, NetworkPolicies and hand-written rules to the entries the datapath's maps should
// hold, in either design (both enforce at the destination pod's veth, in to_pod):
//  ip-pair   policy[(saddr, daddr)] = verdict for every port; policy_ports[(saddr, daddr, proto,
//            dport)] for rules limited to ports; isolated[daddr] for pods a policy selects
//  identity  identity[ip] = id (one per label set; IDENTITY_HOST for the node);
//            endpoint_policy[(peer id, endpoint ip, dport, proto)], dport 0 for every port;
//            isolated[daddr]
// Replies need no rule: the datapath tracks the flows each pod opens (conntrack). The node a
// pod runs on may always reach it, as Kubernetes requires (kubelet probes).

export const VERDICT = {deny: 1, allow: 2} as const
export type VerdictName = keyof typeof VERDICT
export const verdictName = (v: number): string =>
  v === VERDICT.deny ? 'deny' : v === VERDICT.allow ? 'allow' : `verdict ${v}`

export interface PolicyPod {
  name: string
  ip: string
  labels: Labels
  /** The pod's network namespace: how the agent finds its host veth to attach to_pod. */
  netnsPath?: string
  /** Its Kubernetes namespace, when its source knows one (a CRI sandbox's metadata). */
  namespace?: string
}

/** A rule written with `policy deny|allow FROM TO` (pod names or addresses). */
export interface ManualRule {
  from: string
  to: string
  verdict: VerdictName
}

export type Mode = 'ip-pair' | 'identity'

export interface Desired {
  mode: Mode
  /** "src>dst" -> verdict for every port: src an address (ip-pair) or a peer identity, dst an address. */
  pairs: Map<string, number>
  /** "src>dst>tcp/80" -> verdict: rules limited to ports. */
  portPairs: Map<string, number>
  /** Isolated destinations: the addresses of pods a policy selects. */
  isolated: Set<string>
  /** identity mode: pod address -> identity. */
  identities: Map<string, number>
  /** Host veth ifindex -> the address of the pod behind it (source validation). */
  endpoints: Map<number, string>
}

/** The node's addresses on a pod's subnet: where traffic from the node to that pod comes from. */
export type NodeAddressesOf = (podIp: string) => string[]

export const emptyDesired = (mode: Mode): Desired => ({
  mode,
  pairs: new Map(),
  portPairs: new Map(),
  isolated: new Set(),
  identities: new Map(),
  endpoints: new Map(),
})

/** Cilium's reserved:host identity: the node's own addresses. Pods' identities start at 256. */
export const IDENTITY_UNKNOWN = 0
export const IDENTITY_HOST = 1
export const FIRST_POD_IDENTITY = 256

export const labelsKey = (labels: Labels): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',')

/** Pod name or IPv4 address -> the pod (or a bare address). */
function endpoint(ref: string, pods: PolicyPod[]): {ip: string; pod?: PolicyPod} {
  const pod = pods.find((p) => p.name === ref) ?? pods.find((p) => p.ip === ref)
  if (pod) return {ip: pod.ip, pod}
  if (isIPv4(ref)) return {ip: ref}
  throw new UserError(`"${ref}" is neither a pod nor an IPv4 address`, {
    hint: `pods: ${pods.map((p) => p.name).join(', ') || 'none'}`,
    next: pods.length ? undefined : {do: 'add-pod'},
  })
}

/** Every (source, target) pod pair the policies allow (on some ports, or all), and the pods they isolate. */
function allowedPodPairs(
  pods: PolicyPod[],
  policies: PolicySpec[],
): {pairs: Array<[PolicyPod, PolicyPod, PortRule[] | undefined]>; isolated: PolicyPod[]} {
  const pairs: Array<[PolicyPod, PolicyPod, PortRule[] | undefined]> = []
  const isolated = new Set<PolicyPod>()
  for (const np of policies) {
    const targets = pods.filter((p) => matches(np.podSelector, p.labels))
    targets.forEach((t) => isolated.add(t))
    for (const rule of np.ingress) {
      const sources =
        rule.from === undefined ? pods : pods.filter((p) => rule.from!.some((sel) => matches(sel, p.labels)))
      for (const t of targets) for (const s of sources) if (s !== t) pairs.push([s, t, rule.ports])
    }
  }
  return {pairs, isolated: [...isolated]}
}

export interface ResolveOptions {
  identityOf?: (labels: Labels) => number
  nodeAddressesOf?: NodeAddressesOf
}

export function resolve(
  mode: Mode,
  pods: PolicyPod[],
  policies: PolicySpec[],
  rules: ManualRule[],
  opts: ResolveOptions = {},
): Desired {
  const desired = emptyDesired(mode)
  const {pairs, isolated} = allowedPodPairs(pods, policies)
  // One direction only: the reply comes back through conntrack, never through a rule.
  const allow = (s: string, d: string, ports: PortRule[] | undefined): void => {
    if (ports)
      for (const p of ports) desired.portPairs.set(`${s}>${d}>${p.protocol.toLowerCase()}/${p.port}`, VERDICT.allow)
    else if (!desired.pairs.has(`${s}>${d}`)) desired.pairs.set(`${s}>${d}`, VERDICT.allow)
  }
  const nodeOf = opts.nodeAddressesOf ?? (() => [])
  for (const t of isolated) desired.isolated.add(t.ip)
  if (mode === 'ip-pair') {
    for (const [s, t, ports] of pairs) allow(s.ip, t.ip, ports)
    for (const t of isolated) for (const n of nodeOf(t.ip)) allow(n, t.ip, undefined)
    // Hand-written rules last: they override what the policies allow.
    for (const r of rules)
      desired.pairs.set(`${endpoint(r.from, pods).ip}>${endpoint(r.to, pods).ip}`, VERDICT[r.verdict])
    return desired
  }
  if (!opts.identityOf) throw new Error('identity mode needs an identity allocator')
  for (const p of pods) desired.identities.set(p.ip, opts.identityOf(p.labels))
  for (const t of isolated) {
    for (const n of nodeOf(t.ip)) {
      desired.identities.set(n, IDENTITY_HOST)
      allow(String(IDENTITY_HOST), t.ip, undefined)
    }
  }
  const id = (p: PolicyPod): number => desired.identities.get(p.ip)!
  for (const [s, t, ports] of pairs) allow(String(id(s)), t.ip, ports)
  for (const r of rules) {
    const [f, t] = [endpoint(r.from, pods), endpoint(r.to, pods)]
    for (const e of [f, t]) {
      if (!e.pod)
        throw new UserError(`${e.ip} is not a pod: in the identity design rules name pods (their label sets)`, {
          hint: 'use pod names; an address without a pod has identity 0',
        })
    }
    desired.pairs.set(`${id(f.pod!)}>${t.ip}`, VERDICT[r.verdict])
  }
  return desired
}
