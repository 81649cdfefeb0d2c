import {existsSync, readFileSync} from 'node:fs'
import {LockedJsonFile} from '../host/locked-json-file.js'
import type {ManualRule} from './resolve.js'
import type {PolicySpec} from './networkpolicy.js'

// The policy store's versions by time: each change to rules, NetworkPolicies or identities, as the
// whole state after it. observe names a flow with the version in force when the flow happened, so
// a deny written after an allow policy, or a rule removed since, keeps its true name. Bounded:
// versions older than a day go (the newest of them stays: it was in force until the next), and
// never more than MAX_VERSIONS.

/** What a version keeps of the store (store.ts's PolicyState without its bookkeeping). */
export interface PolicyVersionState {
  rules: ManualRule[]
  policies: Record<string, {spec: PolicySpec; source?: string; appliedAt: string}>
  identities: Record<string, number>
}

export interface PolicyVersion {
  /** When this version was written: ms since the epoch. */
  at: number
  state: PolicyVersionState
}

interface HistoryFile {
  version: 1
  versions: PolicyVersion[]
}

const MAX_VERSIONS = 500
const KEEP_MS = 24 * 3600_000

const isVersion = (v: unknown): v is PolicyVersion => {
  const p = v as PolicyVersion
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.at === 'number' &&
    typeof p.state === 'object' &&
    p.state !== null &&
    Array.isArray(p.state.rules) &&
    typeof p.state.policies === 'object' &&
    typeof p.state.identities === 'object'
  )
}
const isFile = (v: unknown): v is HistoryFile =>
  typeof v === 'object' && v !== null && (v as HistoryFile).version === 1 && Array.isArray((v as HistoryFile).versions)

/** Beside the store: policy.json's history is policy-history.json. */
export const policyHistoryPath = (storePath: string): string => storePath.replace(/(\.json)?$/, '-history.json')

export class PolicyHistory {
  private readonly file: LockedJsonFile<HistoryFile>

  constructor(readonly path: string) {
    this.file = new LockedJsonFile(
      path,
      isFile,
      () => ({version: 1, versions: []}),
      (aside) =>
        process.stderr.write(
          `warning: the policy history ${path} was unreadable; moved it to ${aside} and started anew\n`,
        ),
    )
  }

  /** The store's state after a change, in force from `at` on. */
  record(s: PolicyVersionState, at = Date.now()): void {
    const state = structuredClone({rules: s.rules, policies: s.policies, identities: s.identities})
    this.file.mutate((f) => {
      const last = f.versions.at(-1)
      if (last && JSON.stringify(last.state) === JSON.stringify(state)) return
      f.versions.push({at, state})
      const old = f.versions.filter((v) => at - v.at > KEEP_MS)
      // The newest old version was in force until the next one: keep it.
      f.versions = f.versions.slice(Math.max(0, old.length - 1)).slice(-MAX_VERSIONS)
    })
  }

  /** Every version, oldest first; a missing or unreadable file is no history (never an error, never moved). */
  read(): PolicyVersion[] {
    try {
      if (!existsSync(this.path)) return []
      const v: unknown = JSON.parse(readFileSync(this.path, 'utf8'))
      return isFile(v) ? v.versions.filter(isVersion).sort((a, b) => a.at - b.at) : []
    } catch {
      return []
    }
  }
}

/** The version in force at `ms` (the last written at or before it), or undefined when none covers it. */
export function versionAt(versions: PolicyVersion[], ms: number): PolicyVersion | undefined {
  let found: PolicyVersion | undefined
  for (const v of versions) if (v.at <= ms) found = v
  return found
}
