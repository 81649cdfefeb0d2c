import {randomUUID} from 'node:crypto'
import {ledgerPath} from './paths.js'
import {LockedJsonFile} from './locked-json-file.js'
import {PodHistory, podHistoryPath, type PodLife} from './pod-history.js'
import {currentCheck} from './check-scope.js'
import {thisRun, type RunStamp} from './live-runs.js'

/** Kinds of host object the tool creates; reset knows how to remove each. */
export type ResourceKind =
  | 'netns' // details: {}                       name: netns name
  | 'link' // details: {netns?}                  name: interface name
  | 'pin' // details: {}                         name: path under /sys/fs/bpf
  | 'xdp' // details: {netns?}                   name: interface the program is attached to
  | 'tc' // details: {netns?, direction}         name: interface
  | 'tcx' // details: {direction, pin}           name: interface; pin: the tcx link's path under /sys/fs/bpf
  | 'file' // details: {backup?}                 name: installed path; backup restored on reset
  | 'dir' // details: {}                         name: directory made by the tool (removed if empty)
  | 'process' // details: {pid, startTime}       name: what runs
  | 'pod' // details: pod record                 name: pod name
  | 'podman-network' // details: {}             name: network name
  | 'node' // details: node record (lab 5)      name: node name; its netns and links are entries of their own

export interface LedgerEntry {
  id: string
  kind: ResourceKind
  name: string
  lab?: number
  /** Entries belonging to a larger thing (a pod's netns and workload) name it. */
  owner?: string
  createdAt: string
  /** The run that recorded it: while that run is alive the object is its (reset leaves it). */
  by?: RunStamp
  details: Record<string, unknown>
}

interface LedgerFile {
  version: 1
  entries: LedgerEntry[]
}

const isLedgerFile = (v: unknown): v is LedgerFile =>
  typeof v === 'object' && v !== null && (v as LedgerFile).version === 1 && Array.isArray((v as LedgerFile).entries)

export type LedgerWarning = (message: string) => void

/**
 * The write-ahead record of host objects: an entry is written (atomically, under a
 * lock) before the object is made, so a crash between the two leaves an entry that
 * reset treats as "remove if present" rather than an object nobody knows about.
 */
export class Ledger {
  private readonly file: LockedJsonFile<LedgerFile>
  /** Pods' lives, kept after the pods go (observe names past flows with them). */
  private readonly history: PodHistory

  constructor(
    path: string = ledgerPath(),
    private readonly warn: LedgerWarning = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {
    this.history = new PodHistory(podHistoryPath(path))
    this.file = new LockedJsonFile(
      path,
      isLedgerFile,
      () => ({version: 1, entries: []}),
      (aside) => warn(`the resource ledger ${path} was unreadable; moved it to ${aside} and started a new one`),
    )
  }

  entries(): LedgerEntry[] {
    return this.file.read().entries
  }

  /** Record an object about to be created; returns the entry (its id removes it later). */
  record(
    kind: ResourceKind,
    name: string,
    opts: {lab?: number; owner?: string; details?: Record<string, unknown>} = {},
  ): LedgerEntry {
    const entry: LedgerEntry = {
      id: randomUUID(),
      kind,
      name,
      lab: opts.lab,
      owner: opts.owner,
      createdAt: new Date().toISOString(),
      by: thisRun(),
      details: opts.details ?? {},
    }
    this.file.mutate((f) => f.entries.push(entry))
    this.notePod(entry)
    return entry
  }

  update(id: string, details: Record<string, unknown>): void {
    const updated = this.file.mutate((f) => {
      const e = f.entries.find((x) => x.id === id)
      if (e) e.details = {...e.details, ...details}
      return e
    })
    if (updated) this.notePod(updated)
  }

  forget(ids: readonly string[]): void {
    const drop = new Set(ids)
    this.forgetWhere((e) => drop.has(e.id))
  }

  /** Drop every entry matching pred, in one locked read-modify-write. */
  forgetWhere(pred: (e: LedgerEntry) => boolean): void {
    const gone = this.file.mutate((f) => {
      const removed: LedgerEntry[] = []
      f.entries = f.entries.filter((e) => !(pred(e) && removed.push(e)))
      return removed
    })
    const pods = gone.filter((e) => e.kind === 'pod').map((e) => e.id)
    if (pods.length) this.keepHistory(() => this.history.ended(pods))
  }

  /** A pod the ledger does not hold (a check's own netns pod) begins its life in the pod history. */
  podBegan(life: PodLife): void {
    this.keepHistory(() => this.history.began(life))
  }

  /** ...and ends it. */
  podEnded(id: string): void {
    this.keepHistory(() => this.history.ended([id]))
  }

  /** A pod with an address begins its life in the pod history (a check's pod says which check). */
  private notePod(e: LedgerEntry): void {
    const d = e.details as {ip?: unknown; labels?: Record<string, string>; netnsPath?: string}
    if (e.kind !== 'pod' || typeof d.ip !== 'string' || !d.ip) return
    const check = currentCheck()
    const ip = d.ip
    this.keepHistory(() =>
      this.history.began({
        id: e.id,
        name: e.name,
        ip,
        labels: d.labels ?? {},
        ...(d.netnsPath ? {netns: d.netnsPath} : {}),
        ...(check ? {check: e.lab === undefined ? check : `${e.lab}/${check}`} : {}),
        from: Date.parse(e.createdAt),
      }),
    )
  }

  /** The history is for naming flows: failing to write it warns, and never stops a pod's making. */
  private keepHistory(write: () => void): void {
    try {
      write()
    } catch (err) {
      this.warn(`could not write the pod history: ${(err as Error).message}`)
    }
  }

  find(pred: (e: LedgerEntry) => boolean): LedgerEntry[] {
    return this.entries().filter(pred)
  }
}
