import {Ledger, type LedgerEntry, type ResourceKind} from '../host/ledger.js'
import {inUseBy, liveRun} from '../host/live-runs.js'
import {errorMessage} from '../host/errors.js'
import type {Discoverer, Remover, ResetAction, ResetOutcome} from './actions.js'
import {baseRemovers} from './removers.js'
import {podRemovers, runtimeDiscoverers} from './pod-runtimes.js'

// The reset engine: what the ledger names, each entry by its kind's remover, then what the
// discoverers find that no ledger names; performed in that order, a failure kept for next time.

// Pods go first (their CNI DEL needs the netns they live in), then everything else newest-first.
const KIND_ORDER: Partial<Record<ResourceKind, number>> = {pod: 0}

export class ResetService {
  constructor(
    private readonly ledger: Ledger,
    private readonly removers: Partial<Record<ResourceKind, Remover>>,
    private readonly discoverers: Discoverer[] = [],
  ) {}

  /** What reset would do, in order. Entries are filtered by lab when one is given. */
  async plan(lab?: number): Promise<ResetAction[]> {
    const entries = this.ledger.entries().filter((e) => lab === undefined || e.lab === lab)
    const ordered = entries
      .map((e, i) => ({e, i}))
      .sort((a, b) => (KIND_ORDER[a.e.kind] ?? 1) - (KIND_ORDER[b.e.kind] ?? 1) || b.i - a.i)
      .map(({e}) => e)
    const heldBy = liveOwners(entries)
    const actions: ResetAction[] = []
    for (const e of ordered) {
      const remover = this.removers[e.kind]
      const made = remover?.(e)
      const action = made && heldBy.has(e.id) ? {...made, heldBy: heldBy.get(e.id)} : made
      // A directory recorded by several runs is one directory: one action forgets all its entries.
      const same =
        action?.kind === 'dir'
          ? actions.find((a) => a.kind === 'dir' && a.description === action.description)
          : undefined
      // ...and stays while any run that recorded it is alive.
      if (same) {
        same.entryIds.push(...action!.entryIds)
        same.heldBy ??= action!.heldBy
      } else if (action) actions.push(action)
      else
        actions.push({
          description: `forget unknown ledger entry ${e.kind} ${e.name}`,
          kind: e.kind,
          entryIds: [e.id],
          perform: async () => undefined,
        })
    }
    for (const d of this.discoverers) actions.push(...(await d(lab)))
    return actions
  }

  /** Perform each action; a failed one keeps its ledger entries so a later reset retries it. */
  async execute(actions: ResetAction[], onProgress?: (a: ResetAction, error?: string) => void): Promise<ResetOutcome> {
    const outcome: ResetOutcome = {done: [], kept: [], failed: []}
    for (const a of actions) {
      if (a.heldBy) {
        outcome.kept.push({description: a.description, why: a.heldBy})
        onProgress?.(a)
        continue
      }
      try {
        await a.perform()
        if (a.entryIds.length > 0) this.ledger.forget(a.entryIds)
        outcome.done.push(a.description)
        onProgress?.(a)
      } catch (err) {
        outcome.failed.push({description: a.description, error: errorMessage(err)})
        onProgress?.(a, errorMessage(err))
      }
    }
    return outcome
  }
}

/**
 * The entries a live run of ebpfcni other than this one recorded, with why they stay ("in use by pid
 * N: ebpfcni lab all"): that run removes them when it ends, and needs them until then. A background
 * helper this reset stops (its process entry is not held) holds nothing: what it recorded goes too.
 */
function liveOwners(entries: readonly LedgerEntry[]): Map<string, string> {
  // One look per run, by pid and start time: an entry of an earlier process with the same pid is not the live run's.
  const why = new Map<string, string | undefined>()
  const holder = (e: LedgerEntry): string | undefined => {
    if (!e.by) return undefined
    const key = `${e.by.pid}:${e.by.startTime ?? ''}`
    if (!why.has(key)) {
      const run = liveRun(e.by)
      why.set(key, run && inUseBy(run))
    }
    return why.get(key)
  }
  const held = new Map<string, string>()
  for (const e of entries) {
    const w = holder(e)
    if (w) held.set(e.id, w)
  }
  const stopping = new Set(
    entries.filter((e) => e.kind === 'process' && !held.has(e.id)).map((e) => Number(e.details.pid)),
  )
  for (const e of entries) if (e.by && stopping.has(e.by.pid)) held.delete(e.id)
  return held
}

/**
 * Reset composed from its parts: the host's removers, the pod runtimes' removers and discoverers,
 * and the labs' discoverers of what the learner's own code made (`labDiscoverers`, handed in by the
 * caller from labs/registry.ts, so nothing here names a lab).
 */
export function createResetService(labDiscoverers: Discoverer[], ledger = new Ledger()): ResetService {
  return new ResetService(ledger, {...baseRemovers, ...podRemovers}, [...labDiscoverers, ...runtimeDiscoverers])
}
