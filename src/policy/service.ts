import {readFileSync} from 'node:fs'
import {resolve as resolvePath} from 'node:path'
import {UserError} from '../host/errors.js'
import {BPF_PIN_ROOT} from '../host/paths.js'
import {parseNetworkPolicy, type PolicySpec} from './networkpolicy.js'
import {PolicyMaps, POLICY_MAPS, type SyncResult} from './maps.js'
import {labelsKey, resolve, verdictName, type Desired, type Mode, type VerdictName} from './resolve.js'
import {PolicyStore} from './store.js'
import {LedgerPodSource, type PodSource} from './pods.js'

// `ebpfcni policy …` and the controller: every change is stored first, then the maps are
// brought to the state resolved from all rules, policies and pods (a diff, never a wipe).

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

export class PolicyService {
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

  desired(mode: Mode): Desired {
    const s = this.store.read()
    return resolve(mode, this.pods.list(), Object.values(s.policies).map((p) => p.spec), s.rules, (l) => this.store.identityOf(labelsKey(l)))
  }

  /** Bring the maps in line with the stored rules, policies and the pods that exist now. */
  sync(): SyncResult & {mode: Mode} {
    return this.guarded(() => undefined, () => undefined)
  }

  /**
   * Store a change and sync. The maps are opened first (a clear error, nothing stored, when
   * lab 4's program is not loaded); a change that cannot be resolved (unknown pod) is undone.
   */
  private guarded(change: () => void, undo: () => void): SyncResult & {mode: Mode} {
    const maps = PolicyMaps.open(this.pinDir)
    try {
      change()
      try {
        return {...maps.sync(this.desired(maps.mode)), mode: maps.mode}
      } catch (err) {
        undo()
        throw err
      }
    } finally {
      maps.close()
    }
  }

  setRule(verdict: VerdictName, from: string, to: string): SyncResult & {mode: Mode} {
    const before = this.store.read().rules.find((r) => r.from === from && r.to === to)
    return this.guarded(
      () => this.store.setRule({from, to, verdict}),
      () => (before ? this.store.setRule(before) : this.store.removeRule(from, to)),
    )
  }

  removeRule(from: string, to: string): SyncResult & {mode: Mode} {
    if (!this.store.removeRule(from, to)) throw new UserError(`no rule from ${from} to ${to}`, {hint: 'ebpfcni policy list shows the rules'})
    return this.sync()
  }

  /** Apply a NetworkPolicy file: parsed and validated whole before anything is written. */
  apply(file: string): {spec: PolicySpec} & SyncResult & {mode: Mode} {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new UserError(`cannot read ${file}: ${(err as Error).message}`)
    }
    const spec = parseNetworkPolicy(text, file)
    const before = this.store.read().policies[spec.name]
    const r = this.guarded(
      () => this.store.putPolicy(spec, resolvePath(file)),
      () => (before ? this.store.putPolicy(before.spec, before.source) : this.store.deletePolicy(spec.name)),
    )
    return {spec, ...r}
  }

  deletePolicy(name: string): SyncResult & {mode: Mode} {
    if (!this.store.deletePolicy(name)) {
      throw new UserError(`no NetworkPolicy named "${name}"`, {hint: `applied: ${Object.keys(this.store.read().policies).join(', ') || 'none'}`})
    }
    return this.sync()
  }

  /** The maps' entries decoded, with pod names where an address or identity is a pod's. */
  list(): {mode: Mode; rules: RuleRow[]; isolated: string[]; identities: Array<{ip: string; pod: string; identity: number; labels: string}>} {
    const maps = PolicyMaps.open(this.pinDir)
    try {
      const cur = maps.read()
      const pods = this.pods.list()
      const byIp = new Map(pods.map((p) => [p.ip, p.name]))
      const labelsOfId = new Map(Object.entries(this.store.read().identities).map(([l, id]) => [id, l]))
      const name = (x: string): string => {
        if (maps.mode === 'ip-pair') return byIp.has(x) ? `${byIp.get(x)} (${x})` : x
        const id = Number(x)
        return id === 0 ? 'unknown (0)' : `{${labelsOfId.get(id) ?? '?'}} (${id})`
      }
      const mapNames = POLICY_MAPS[maps.mode]
      return {
        mode: maps.mode,
        rules: [
          ...[...cur.pairs].map(([pair, v]) => {
            const [s, d] = pair.split('>')
            return {map: mapNames.pairs, from: name(s), to: name(d), verdict: verdictName(v)}
          }),
          ...[...cur.portPairs].map(([rule, v]) => {
            const [s, d, port] = rule.split('>')
            return {map: mapNames.ports, from: name(s), to: `${name(d)} ${port}`, verdict: verdictName(v)}
          }),
        ],
        isolated: [...cur.isolated].map(name),
        identities: [...cur.identities].map(([ip, identity]) => ({ip, pod: byIp.get(ip) ?? '', identity, labels: labelsOfId.get(identity) ?? ''})),
      }
    } finally {
      maps.close()
    }
  }
}
