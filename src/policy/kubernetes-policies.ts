import {errorMessage} from '../host/errors.js'
import {getJson, type ApiServer} from './kubernetes-api.js'
import {parseNetworkPolicy, type PolicySpec} from './networkpolicy.js'
import type {PodSource} from './pods.js'
import type {PolicyStore} from './store.js'

// NetworkPolicies from the Kubernetes API, for the node's policy controller on a real cluster
// (`policy watch --policies kubernetes`): each is kept in the policy store under a name of its
// own ("k8s.NAMESPACE.NAME"), and the controller's store watch applies the change to the maps.
// Kubernetes scopes a policy to its namespace: it selects pods of that namespace, and a `from`
// podSelector without a namespaceSelector means pods of that namespace too. Pods carry their
// namespace as the label the kubelet gives every sandbox, io.kubernetes.pod.namespace, and the
// policy's selectors ask for it.

export const KUBERNETES_POLICY_PREFIX = 'k8s.'
export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace'
const LIST_PATH = '/apis/networking.k8s.io/v1/networkpolicies'

interface ApiItem {
  metadata?: {name?: unknown; namespace?: unknown}
  spec?: unknown
}

const isItem = (v: unknown): v is ApiItem => typeof v === 'object' && v !== null

const namespaceOf = (i: ApiItem) => String(i.metadata?.namespace ?? 'default')
/** "default/deny-all": an item as messages name it. */
const itemName = (i: ApiItem) => `${namespaceOf(i)}/${String(i.metadata?.name ?? '?')}`
/** "k8s.default.deny-all": the name it is stored under. */
const storedName = (i: ApiItem) => `${KUBERNETES_POLICY_PREFIX}${namespaceOf(i)}.${String(i.metadata?.name)}`

/** A NetworkPolicy as the API lists it, as this lab's PolicySpec scoped to its namespace. Throws UserError. */
export function policyFromApi(item: ApiItem): PolicySpec {
  const ns = namespaceOf(item)
  // Items of a list carry no apiVersion or kind; metadata has much the lab does not read.
  const doc = {apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: {name: item.metadata?.name}}
  const spec = parseNetworkPolicy(JSON.stringify({...doc, spec: item.spec}), itemName(item))
  const scoped = (labels: Record<string, string>) => ({...labels, [NAMESPACE_LABEL]: ns})
  return {
    name: storedName(item),
    podSelector: scoped(spec.podSelector),
    ingress: spec.ingress.map((r) => (r.from ? {...r, from: r.from.map(scoped)} : r)),
  }
}

export interface PolicyRefresh {
  put: string[]
  deleted: string[]
  /** Policies the lab's datapath cannot enforce, and why ("default/x: spec.egress…"). */
  skipped: string[]
}

export class KubernetesPolicySource {
  constructor(
    private readonly api: ApiServer,
    private readonly store: PolicyStore,
  ) {}

  /** List every NetworkPolicy and bring the store's API-owned ones in line with the list. */
  async refresh(): Promise<PolicyRefresh> {
    const list = await getJson(this.api, LIST_PATH)
    const items = (list as {items?: unknown}).items
    if (!Array.isArray(items)) throw new Error(`GET ${LIST_PATH}: the answer is not a NetworkPolicyList`)
    const have = this.store.read().policies
    const want = new Map<string, PolicySpec>()
    const out: PolicyRefresh = {put: [], deleted: [], skipped: []}
    for (const item of items.filter(isItem)) {
      try {
        const spec = policyFromApi(item)
        want.set(spec.name, spec)
      } catch (err) {
        // A policy that turned unsupported keeps its last good version (as a broken file edit does).
        const name = storedName(item)
        if (have[name]) want.set(name, have[name].spec)
        out.skipped.push(`${errorMessage(err)}${have[name] ? ' (its last supported version stays)' : ''}`)
      }
    }
    for (const [name, spec] of want) {
      if (JSON.stringify(have[name]?.spec) === JSON.stringify(spec)) continue
      this.store.putPolicy(spec)
      out.put.push(name)
    }
    for (const name of Object.keys(have)) {
      if (name.startsWith(KUBERNETES_POLICY_PREFIX) && !want.has(name)) {
        this.store.deletePolicy(name)
        out.deleted.push(name)
      }
    }
    return out
  }

  /** Refresh every `pollMs` (one at a time); each result or error goes to `report`. Returns stop. */
  start(pollMs: number, report: (r: PolicyRefresh | {error: string}) => void): () => void {
    let busy = false
    const tick = () => {
      if (busy) return
      busy = true
      this.refresh()
        .then(report, (err: unknown) => report({error: errorMessage(err)}))
        .finally(() => (busy = false))
    }
    tick()
    const timer = setInterval(tick, pollMs)
    return () => clearInterval(timer)
  }
}

/**
 * `policy watch --policies kubernetes`: the API read every `resyncSeconds` into the store (the
 * controller's store watch applies what changed). `report` hears of each read that put, deleted or
 * skipped a policy, and of each error. Returns stop.
 */
export function followApiPolicies(
  api: ApiServer,
  store: PolicyStore,
  resyncSeconds: number,
  report: (r: PolicyRefresh | {error: string}) => void,
): () => void {
  return new KubernetesPolicySource(api, store).start(resyncSeconds * 1000, (r) => {
    if (!('error' in r) && !r.put.length && !r.deleted.length && !r.skipped.length) return
    report(r)
  })
}

/** Pods with their namespace as the kubelet's sandbox label (ebpfcni's own pods: "default"). */
export function withNamespaceLabel(source: PodSource): PodSource {
  return {
    list: () => source.list().map((p) => ({...p, labels: {...p.labels, [NAMESPACE_LABEL]: p.namespace ?? 'default'}})),
    subscribe: (onChange) => source.subscribe(onChange),
  }
}
