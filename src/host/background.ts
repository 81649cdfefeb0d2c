import {appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {Ledger} from './ledger.js'
import {stateDir} from './paths.js'
import {processAlive, spawnDetached, stopRecordedProcess} from './processes.js'

// A long-running helper started in the background (exporter, policy controller): in the ledger
// before it starts, its output in a log, and "ready" only once it says so: it writes the file
// named by EBPFCNI_READY_FILE (signalReady) when it serves. Its log text is for people, not a
// protocol; a helper that exits before it is ready is reported with the log's last lines.

/** The environment variable a background helper finds its ready file in. */
const READY_ENV = 'EBPFCNI_READY_FILE'

/** Called by a helper once it serves: tells the process that started it (no-op in the foreground). */
export function signalReady(): void {
  const file = process.env[READY_ENV]
  if (file) writeFileSync(file, `${process.pid}\n`)
}

export interface BackgroundSpec {
  ledger: Ledger
  owner: string
  name: string
  lab?: number
  logName: string
  file: string
  args: string[]
  timeoutMs?: number
}

export async function startRecordedProcess(spec: BackgroundSpec): Promise<{pid: number; log: string}> {
  const log = join(stateDir(), 'logs', spec.logName)
  const entry = spec.ledger.record('process', spec.name, {lab: spec.lab, owner: spec.owner, details: {log}})
  // A marker per start: the log is appended to, and only this run's lines count.
  const marker = `--- ${spec.owner} start ${entry.id} ${new Date().toISOString()}`
  mkdirSync(dirname(log), {recursive: true})
  appendFileSync(log, `${marker}\n`)
  const ready = join(stateDir(), 'logs', `${spec.logName}.${entry.id}.ready`)
  rmSync(ready, {force: true})
  const {pid, startTime} = spawnDetached(spec.file, spec.args, log, {
    PATH: process.env.PATH ?? '',
    EBPFCNI_STATE_DIR: stateDir(),
    [READY_ENV]: ready,
  })
  spec.ledger.update(entry.id, {pid, startTime})
  const deadline = Date.now() + (spec.timeoutMs ?? 5000)
  const seen = (): string => (existsSync(log) ? (readFileSync(log, 'utf8').split(marker).at(-1) ?? '') : '')
  let exited = false
  while (Date.now() < deadline) {
    if (existsSync(ready)) {
      rmSync(ready, {force: true})
      return {pid, log}
    }
    if (!processAlive(pid, startTime)) {
      exited = true
      break
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  if (!exited) await stopRecordedProcess({pid, startTime})
  rmSync(ready, {force: true})
  spec.ledger.forget([entry.id])
  const why = exited ? 'it exited' : `it was not ready within ${(spec.timeoutMs ?? 5000) / 1000} s`
  throw new Error(
    `the ${spec.name} did not start (${why}): ${seen().trim().split('\n').slice(-2).join(' | ') || 'no output'}`,
  )
}

/** Stop every background process of these owners (today's name and older ones). Returns how many were recorded. */
export async function stopOwnedProcesses(owners: string[], ledger: Ledger): Promise<number> {
  // A legacy owner name could also be a pod's: only the background process of that name counts.
  const entries = ledger.find(
    (e) => e.kind === 'process' && owners.includes(e.owner ?? '') && !e.name.startsWith('httpbin in pod '),
  )
  for (const e of entries) {
    await stopRecordedProcess(e.details)
    ledger.forget([e.id])
  }
  return entries.length
}
