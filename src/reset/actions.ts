import type {LedgerEntry} from '../host/ledger.js'

// What reset does, one action at a time, and the two ways actions are made: a remover for each
// kind of ledger entry, a discoverer for what no ledger names (a lab's own, in labs/NN-slug/reset.ts).

/** One thing reset will do. `entryIds` are the ledger entries it settles. */
export interface ResetAction {
  description: string
  kind: string
  entryIds: string[]
  perform: () => Promise<void>
  /** Set when a live run owns it ("in use by pid N: ebpfcni lab all"): reset leaves it and says why. */
  heldBy?: string
}

export type Remover = (entry: LedgerEntry) => ResetAction
/** Finds what the learner's own plugin made that the ledger cannot know (bridge, veths, IPAM state). */
export type Discoverer = (lab: number | undefined) => Promise<ResetAction[]>

export interface ResetOutcome {
  done: string[]
  /** Left alone: a live run owns them. */
  kept: Array<{description: string; why: string}>
  failed: Array<{description: string; error: string}>
}
