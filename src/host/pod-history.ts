import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {LockedJsonFile} from './locked-json-file.js'
import {stateDir} from './paths.js'

// Who held an address, and when: each pod's life (created, deleted), kept after the pod is gone so
// observe can name a past flow with the pod of its time, not with today's holder of the address.
// The ledger writes attendee pods (any runtime, `pod add`, labs' fixtures, reset's removals); check
// runs write the pods they ADD themselves. Bounded: lives that ended over a day ago, and beyond the
// newest MAX_LIVES, go.

export interface PodLife {
  /** The ledger entry's id, or a check pod's netns name. */
  id: string
  name: string
  ip: string
  labels: Record<string, string>
  netns?: string
  /** The check that made it ("4/policy.isolated"): its flows are a check's. Absent: the attendee's. */
  check?: string
  /** When it was made and (once gone) removed: ms since the epoch. */
  from: number
  until?: number
}

interface PodHistoryFile {
  version: 1
  lives: PodLife[]
}

const MAX_LIVES = 5000
const KEEP_ENDED_MS = 24 * 3600_000

const isLife = (v: unknown): v is PodLife => {
  const l = v as PodLife
  return (
    typeof l === 'object' &&
    l !== null &&
    typeof l.id === 'string' &&
    typeof l.name === 'string' &&
    typeof l.ip === 'string' &&
    typeof l.from === 'number' &&
    (l.until === undefined || typeof l.until === 'number')
  )
}
const isFile = (v: unknown): v is PodHistoryFile =>
  typeof v === 'object' &&
  v !== null &&
  (v as PodHistoryFile).version === 1 &&
  Array.isArray((v as PodHistoryFile).lives)

/** Beside the ledger (a test's private ledger has a private history). */
export const podHistoryPath = (ledgerFile?: string): string =>
  ledgerFile ? join(dirname(ledgerFile), 'pod-history.json') : join(stateDir(), 'pod-history.json')

export class PodHistory {
  private readonly file: LockedJsonFile<PodHistoryFile>

  constructor(readonly path = podHistoryPath()) {
    this.file = new LockedJsonFile(
      path,
      isFile,
      () => ({version: 1, lives: []}),
      (aside) =>
        process.stderr.write(
          `warning: the pod history ${path} was unreadable; moved it to ${aside} and started anew\n`,
        ),
    )
  }

  /** A pod has an address from `life.from` on (again: the same id updates its record). */
  began(life: PodLife): void {
    this.file.mutate((f) => {
      const i = f.lives.findIndex((l) => l.id === life.id)
      if (i >= 0) f.lives[i] = {...f.lives[i], ...life}
      else f.lives.push(life)
      trim(f)
    })
  }

  /** The pods with these ids are gone (now, unless `at` says when). */
  ended(ids: readonly string[], at = Date.now()): void {
    if (!ids.length) return
    const gone = new Set(ids)
    this.file.mutate((f) => {
      for (const l of f.lives) if (gone.has(l.id) && l.until === undefined) l.until = at
      trim(f)
    })
  }

  /** Every recorded life; a missing or unreadable file is no history (never an error, never moved). */
  read(): PodLife[] {
    try {
      if (!existsSync(this.path)) return []
      const v: unknown = JSON.parse(readFileSync(this.path, 'utf8'))
      return isFile(v) ? v.lives.filter(isLife) : []
    } catch {
      return []
    }
  }
}

function trim(f: PodHistoryFile, now = Date.now()): void {
  f.lives = f.lives.filter((l) => l.until === undefined || now - l.until < KEEP_ENDED_MS)
  if (f.lives.length > MAX_LIVES) f.lives = f.lives.sort((a, b) => a.from - b.from).slice(-MAX_LIVES)
}
