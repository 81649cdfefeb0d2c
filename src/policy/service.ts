import {readFileSync, statSync} from 'node:fs'
import {join, resolve as resolvePath} from 'node:path'
import {UserError} from '../host/errors.js'
import {BPF_PIN_ROOT} from '../host/paths.js'
import {parseNetworkPolicy, unmatchedSelectors, type Labels, type PolicySpec} from './networkpolicy.js'
import {PolicyMaps, ruleMapNames, type SyncResult} from './maps.js'
import {
  IDENTITY_HOST,
  IDENTITY_UNKNOWN,
  labelsKey,
  resolve,
  verdictName,
  type Desired,
  type ManualRule,
  type Mode,
  type VerdictName,
} from './resolve.js'
import {EndpointAgent, nodeAddresses} from './endpoints.js'
import {PolicyStore} from './store.js'
import {LedgerPodSource, type PodSource} from './pods.js'

// The policy commands and the controller: every change is stored first, then the maps are
// brought to the state resolved from all rules, policies and pods (a diff, never a wipe),
// and every pod's veth gets the programs that enforce it (endpoints.ts).

export interface PolicyServiceOptions {
  pinDir?: string
  store?: PolicyStore
  pods?: PodSource
}

export interface RuleRow {
  map: string
  from: string
  to: string
  verdict: string
}

/**
 * What `policy remove` did to the map entry of the rule it removed: `before`/`after` are the
 * entry's verdict (null: no entry); `keptBy` names what still writes that pair. `unresolved`: the
 * rule names a pod that exists no more, so no entry can be named. With no entry before: when the
 * map was pinned and when the store last changed (each change wrote every rule's entry), ms.
 */
export type RuleRemoval = PolicySyncResult & {
  rule: ManualRule
  entry:
    | {
        map: string
        key: string
        before: string | null
        after: string | null
        keptBy: string[]
        pinnedAt?: number
        storeChangedAt?: number
      }
    | {unresolved: string}
}

/** `endpoints`: pods to_pod is attached to; `reattached`: those of them that ran another to_pod (or none) before. */
export type PolicySyncResult = SyncResult & {mode: Mode; endpoints: number; reattached: string[]}

export class PolicyService {
  private readonly agent = new EndpointAgent()
  readonly pinDir: string
  readonly store: PolicyStore
  readonly pods: PodSource

  constructor(o: PolicyServiceOptions = {}) {
    this.pinDir = o.pinDir ?? BPF_PIN_ROOT
    this.store = o.store ?? new PolicyStore()
    this.pods = o.pods ?? new LedgerPodSource()
  }

  /** The maps' design, or a clear error when lab 4's program is not loaded. */
  mode(): Mode {
    const m = PolicyMaps.open(this.pinDir)
    m.close()
    return m.mode
  }

  /** What the maps should hold for the stored rules and policies and the pods that exist now. */
  async desired(mode: Mode): Promise<{desired: Desired; endpoints: Awaited<ReturnType<EndpointAgent['endpoints']>>}> {
    const s = this.store.read()
    const pods = this.pods.list()
    const desired = resolve(
      mode,
      pods,
      Object.values(s.policies).map((p) => p.spec),
      s.rules,
      {
        identityOf: (l) => this.store.identityOf(labelsKey(l)),
        nodeAddressesOf: await nodeAddresses(),
      },
    )
    const endpoints = await this.agent.endpoints(pods)
    for (const e of endpoints) desired.endpoints.set(e.ifindex, e.ip)
    return {desired, endpoints}
  }

  /** Bring the maps in line with the stored rules, policies and the pods that exist now. */
  async sync(): Promise<PolicySyncResult> {
    return this.guarded(
      () => undefined,
      () => undefined,
    )
  }

  /**
   * Store a change and sync. The maps are opened first (a clear error, nothing stored, when
   * lab 4's program is not loaded); a change that cannot be resolved (unknown pod) is undone.
   * Rules are written before the programs are attached, so a newly covered pod meets its rules.
   */
  private async guarded(change: () => void, undo: () => void): Promise<PolicySyncResult> {
    const maps = PolicyMaps.open(this.pinDir)
    try {
      change()
      try {
        const {desired, endpoints} = await this.desired(maps.mode)
        const r = maps.sync(desired)
        const {attached, changed} = this.agent.attach(this.pinDir, endpoints)
        return {...r, mode: maps.mode, endpoints: attached, reattached: changed}
      } catch (err) {
        undo()
        throw err
      }
    } finally {
      maps.close()
    }
  }

  async setRule(verdict: VerdictName, from: string, to: string): Promise<PolicySyncResult> {
    const before = this.store.read().rules.find((r) => r.from === from && r.to === to)
    return this.guarded(
      () => this.store.setRule({from, to, verdict}),
      () => (before ? this.store.setRule(before) : this.store.removeRule(from, to)),
    )
  }

  /**
   * Remove a hand-written rule, and say what became of the map entry it wrote: deleted, kept or
   * changed by another rule or NetworkPolicy on the same pair, or absent before the removal (with
   * the map's pin time and the store's last write). The sync's counts also cover the other entries
   * it corrected.
   */
  async removeRule(from: string, to: string): Promise<RuleRemoval> {
    const rule = this.store.read().rules.find((r) => r.from === from && r.to === to)
    if (!rule) {
      const rules = this.store.read().rules
      throw new UserError(`no hand-written rule from ${from} to ${to}: nothing was removed`, {
        hint: rules.length
          ? `the rules in the store: ${rules.map((r) => `${r.verdict} ${r.from} → ${r.to}`).join(', ')} (remove takes FROM TO as given to deny/allow)`
          : 'the store holds no hand-written rule (a NetworkPolicy is deleted with ebpfcni policy delete NAME)',
        next: {do: 'list-rules'},
      })
    }
    const mode = this.mode()
    const key = this.entryKey(mode, rule)
    const before = key.key === undefined ? undefined : PolicyMaps.snapshot(this.pinDir).pairs.get(key.key)
    const storeChangedAt = this.store.history.read().at(-1)?.at
    const r = await this.guarded(
      () => this.store.removeRule(from, to),
      () => this.store.setRule(rule),
    )
    if (key.key === undefined) return {...r, rule, entry: {unresolved: key.problem}}
    const after = PolicyMaps.snapshot(this.pinDir).pairs.get(key.key)
    const name = (v: number | undefined) => (v === undefined ? null : verdictName(v))
    const map = ruleMapNames(mode).pairs
    // An entry missing before the removal: whether the map was pinned after the store's last write (a
    // new map is empty; a load reuses a compatible pinned map) is read from the pin's time (its mtime).
    const absent = before === undefined ? {pinnedAt: statSync(join(this.pinDir, map)).mtimeMs, storeChangedAt} : {}
    return {
      ...r,
      rule,
      entry: {
        map,
        key: key.key,
        before: name(before),
        after: name(after),
        keptBy: after === undefined ? [] : this.writersOf(mode, key.key),
        ...absent,
      },
    }
  }

  /** The pair key a rule resolves to with the pods of now, or why it resolves to none. */
  private entryKey(mode: Mode, rule: ManualRule): {key?: string; problem: string} {
    try {
      const d = resolve(mode, this.pods.list(), [], [rule], {
        identityOf: (l) => this.store.identityOf(labelsKey(l)),
      })
      return {key: [...d.pairs.keys()][0], problem: ''}
    } catch (err) {
      return {problem: (err as Error).message}
    }
  }

  /** The stored rules and NetworkPolicies that write this pair key now, in words. */
  private writersOf(mode: Mode, key: string): string[] {
    const s = this.store.read()
    const pods = this.pods.list()
    const opts = {identityOf: (l: Labels) => this.store.identityOf(labelsKey(l))}
    const writes = (policies: PolicySpec[], rules: ManualRule[]): boolean => {
      try {
        return resolve(mode, pods, policies, rules, opts).pairs.has(key)
      } catch {
        return false
      }
    }
    return [
      ...s.rules.filter((r) => writes([], [r])).map((r) => `the rule ${r.verdict} ${r.from} → ${r.to}`),
      ...Object.values(s.policies)
        .filter((p) => writes([p.spec], []))
        .map((p) => `NetworkPolicy ${p.spec.name}`),
    ]
  }

  /**
   * Apply a NetworkPolicy file: parsed and validated whole before anything is written. `unmatched`
   * names its selectors that match no pod now (a typo in a label lets nobody in, silently otherwise).
   */
  async apply(file: string): Promise<{spec: PolicySpec; unmatched: string[]} & PolicySyncResult> {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new UserError(`cannot read ${file}: ${(err as Error).message}`)
    }
    const spec = parseNetworkPolicy(text, file)
    const before = this.store.read().policies[spec.name]
    const r = await this.guarded(
      () => this.store.putPolicy(spec, resolvePath(file)),
      () => (before ? this.store.putPolicy(before.spec, before.source) : this.store.deletePolicy(spec.name)),
    )
    return {spec, unmatched: unmatchedSelectors(spec, this.pods.list()), ...r}
  }

  async deletePolicy(name: string): Promise<PolicySyncResult> {
    if (!this.store.deletePolicy(name)) {
      throw new UserError(`no NetworkPolicy named "${name}"`, {
        hint: `applied: ${Object.keys(this.store.read().policies).join(', ') || 'none'}`,
      })
    }
    return this.sync()
  }

  /** The maps' entries decoded, with pod names where an address or identity is a pod's. */
  async list(): Promise<{
    mode: Mode
    rules: RuleRow[]
    isolated: string[]
    identities: Array<{ip: string; pod: string; identity: number; labels: string}>
  }> {
    const nodeOf = await nodeAddresses()
    const cur = PolicyMaps.snapshot(this.pinDir)
    const pods = this.pods.list()
    const node = new Set(pods.flatMap((p) => nodeOf(p.ip)))
    const byIp = new Map(pods.map((p) => [p.ip, p.name]))
    const labelsOfId = new Map(Object.entries(this.store.read().identities).map(([l, id]) => [id, l]))
    const address = (x: string): string => (byIp.has(x) ? `${byIp.get(x)} (${x})` : node.has(x) ? `the node (${x})` : x)
    // Sources are addresses (ip-pair) or identities; destinations are always pods' addresses.
    const source = (x: string): string => {
      if (cur.mode === 'ip-pair') return address(x)
      const id = Number(x)
      return id === IDENTITY_UNKNOWN
        ? 'unknown (0)'
        : id === IDENTITY_HOST
          ? 'the node (1)'
          : `{${labelsOfId.get(id) ?? '?'}} (${id})`
    }
    const mapNames = ruleMapNames(cur.mode)
    return {
      mode: cur.mode,
      rules: [
        ...[...cur.pairs].map(([pair, v]) => {
          const [s, d] = pair.split('>')
          return {map: mapNames.pairs, from: source(s), to: address(d), verdict: verdictName(v)}
        }),
        ...[...cur.portPairs].map(([rule, v]) => {
          const [s, d, port] = rule.split('>')
          return {map: mapNames.ports, from: source(s), to: `${address(d)} ${port}`, verdict: verdictName(v)}
        }),
      ],
      isolated: [...cur.isolated].map(address),
      identities: [...cur.identities].map(([ip, identity]) => ({
        ip,
        pod: byIp.get(ip) ?? '',
        identity,
        labels: labelsOfId.get(identity) ?? '',
      })),
    }
  }
}
