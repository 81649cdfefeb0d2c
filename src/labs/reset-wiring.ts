import {Ledger} from '../host/ledger.js'
import {ResetService, type ResetAction, type ResetOutcome, type Discoverer, type Remover} from '../host/reset.js'
import {baseRemovers} from '../host/removers.js'
import {ProgressStore} from '../host/progress.js'
import type {ResourceKind} from '../host/ledger.js'

// Reset composed from its parts: the host's removers, the pod runtimes' removers, and
// each lab's discoverer of what the learner's own code made.
const extraRemovers: Partial<Record<ResourceKind, Remover>> = {}
const discoverers: Discoverer[] = []

export function registerRemover(kind: ResourceKind, remover: Remover): void {
  extraRemovers[kind] = remover
}

export function registerDiscoverer(d: Discoverer): void {
  discoverers.push(d)
}

export interface ResetFacade {
  plan(lab?: number): Promise<ResetAction[]>
  execute(actions: ResetAction[], onProgress?: (a: ResetAction, error?: string) => void): Promise<ResetOutcome>
  clearProgress(lab?: number): void
}

export function createResetService(ledger = new Ledger()): ResetFacade {
  const service = new ResetService(ledger, {...baseRemovers, ...extraRemovers}, discoverers)
  return {
    plan: (lab) => service.plan(lab),
    execute: (actions, onProgress) => service.execute(actions, onProgress),
    clearProgress: (lab) => new ProgressStore().resetLab(lab),
  }
}
