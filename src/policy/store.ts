import {LockedJsonFile} from '../host/locked-json-file.js'
import {stateDir} from '../host/paths.js'
import {join} from 'node:path'
import {FIRST_POD_IDENTITY, type ManualRule} from './resolve.js'
import {PolicyHistory, policyHistoryPath} from './history.js'
import type {Labels, PolicySpec} from './networkpolicy.js'

// What the learner asked for, kept across runs: hand-written rules, applied NetworkPolicies,
// and the identities handed out (stable, so a sync rewrites only what changed).

export interface StoredPolicy {
  spec: PolicySpec
  /** The file it was applied from (policy watch re-reads it when it changes). */
  source?: string
  appliedAt: string
}

export interface PolicyState {
  version: 1
  rules: ManualRule[]
  policies: Record<string, StoredPolicy>
  identities: Record<string, number>
  nextIdentity: number
}

const isState = (v: unknown): v is PolicyState =>
  typeof v === 'object' && v !== null && (v as PolicyState).version === 1 && Array.isArray((v as PolicyState).rules)

export const policyStatePath = (): string => join(stateDir(), 'policy.json')

export class PolicyStore {
  private readonly file: LockedJsonFile<PolicyState>
  /** Each version of the state, by time (observe names a flow with the version of its time). */
  readonly history: PolicyHistory

  constructor(readonly path = policyStatePath()) {
    this.history = new PolicyHistory(policyHistoryPath(path))
    this.file = new LockedJsonFile(
      path,
      isState,
      () => ({version: 1, rules: [], policies: {}, identities: {}, nextIdentity: FIRST_POD_IDENTITY}),
      (aside) =>
        process.stderr.write(
          `warning: the policy state ${path} was unreadable; moved it to ${aside} and started empty\n`,
        ),
    )
  }

  read(): PolicyState {
    return this.file.read()
  }

  /** A change, under the store's lock, then its version in the history. */
  private change<R>(fn: (s: PolicyState) => R): R {
    return this.file.mutate((s) => {
      const r = fn(s)
      try {
        this.history.record(s)
      } catch (err) {
        process.stderr.write(`warning: could not write the policy history: ${(err as Error).message}\n`)
      }
      return r
    })
  }

  setRule(rule: ManualRule): void {
    this.change((s) => {
      s.rules = s.rules.filter((r) => !(r.from === rule.from && r.to === rule.to))
      s.rules.push(rule)
    })
  }

  removeRule(from: string, to: string): boolean {
    return this.change((s) => {
      const before = s.rules.length
      s.rules = s.rules.filter((r) => !(r.from === from && r.to === to))
      return s.rules.length !== before
    })
  }

  putPolicy(spec: PolicySpec, source?: string): void {
    this.change((s) => void (s.policies[spec.name] = {spec, source, appliedAt: new Date().toISOString()}))
  }

  deletePolicy(name: string): boolean {
    return this.change((s) => {
      if (!s.policies[name]) return false
      delete s.policies[name]
      return true
    })
  }

  /** The identity of a label set; new label sets get the next number (0 is "unknown"). */
  identityOf(labels: string): number {
    const known = this.read().identities[labels]
    if (known >= FIRST_POD_IDENTITY) return known
    return this.change((s) => {
      // Below 256 are reserved identities (1: the node); a state file from before that rule starts over.
      if (s.nextIdentity < FIRST_POD_IDENTITY) Object.assign(s, {identities: {}, nextIdentity: FIRST_POD_IDENTITY})
      if (!s.identities[labels]) s.identities[labels] = s.nextIdentity++
      return s.identities[labels]
    })
  }

  /** Forget everything (reset). */
  clear(): void {
    this.change((s) => Object.assign(s, {rules: [], policies: {}, identities: {}, nextIdentity: FIRST_POD_IDENTITY}))
  }
}

export type {Labels}
