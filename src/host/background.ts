import {appendFileSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {Ledger} from './ledger.js'
import {stateDir} from './paths.js'
import {spawnDetached, stopRecordedProcess} from './processes.js'

// A long-running helper started in the background (exporter, policy controller): in the ledger
// before it starts, its output in a log, and "ready" only once it says so (or an error ends it).

export interface BackgroundSpec {
  ledger: Ledger
  owner: string
  name: string
  lab?: number
  logName: string
  file: string
  args: string[]
  /** What the process prints once it is serving. */
  ready: RegExp
  timeoutMs?: number
}

export async function startRecordedProcess(spec: BackgroundSpec): Promise<{pid: number; log: string}> {
  const log = join(stateDir(), 'logs', spec.logName)
  const entry = spec.ledger.record('process', spec.name, {lab: spec.lab, owner: spec.owner, details: {log}})
  // A marker per start: the log is appended to, and only this run's lines count.
  const marker = `--- ${spec.owner} start ${entry.id} ${new Date().toISOString()}`
  mkdirSync(dirname(log), {recursive: true})
  appendFileSync(log, `${marker}\n`)
  const {pid, startTime} = spawnDetached(spec.file, spec.args, log, {PATH: process.env.PATH ?? '', EBPFCNI_STATE_DIR: stateDir()})
  spec.ledger.update(entry.id, {pid, startTime})
  const deadline = Date.now() + (spec.timeoutMs ?? 5000)
  const seen = (): string => (existsSync(log) ? readFileSync(log, 'utf8').split(marker).at(-1) ?? '' : '')
  while (Date.now() < deadline) {
    const text = seen()
    if (spec.ready.test(text)) return {pid, log}
    if (/error:/.test(text)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  await stopRecordedProcess({pid, startTime})
  spec.ledger.forget([entry.id])
  throw new Error(`the ${spec.name} did not start: ${seen().trim().split('\n').slice(-2).join(' | ') || 'no output'}`)
}

/** Stop every background process of these owners (today's name and older ones). Returns how many were recorded. */
export async function stopOwnedProcesses(owners: string[], ledger: Ledger): Promise<number> {
  // A legacy owner name could also be a pod's: only the background process of that name counts.
  const entries = ledger.find((e) => e.kind === 'process' && owners.includes(e.owner ?? '') && !e.name.startsWith('httpbin in pod '))
  for (const e of entries) {
    await stopRecordedProcess(e.details)
    ledger.forget([e.id])
  }
  return entries.length
}
