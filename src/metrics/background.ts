import {appendFileSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {stateDir} from '../host/paths.js'
import {spawnDetached, stopRecordedProcess} from '../host/processes.js'

// `ebpfcni metrics --background`: the exporter as a recorded process (reset stops it),
// as the original workshop ran its exporter beside the Prometheus server.

const OWNER = 'metrics-exporter'

export async function startExporterProcess(cliBin: string, args: string[], opts: {ledger?: Ledger; lab?: number} = {}): Promise<{pid: number; log: string}> {
  const ledger = opts.ledger ?? new Ledger()
  const log = join(stateDir(), 'logs', 'metrics-exporter.log')
  const entry = ledger.record('process', 'metrics exporter', {lab: opts.lab, owner: OWNER, details: {log}})
  // A marker per start: the log is appended to, and only this run's lines count.
  const marker = `--- exporter start ${entry.id} ${new Date().toISOString()}`
  mkdirSync(dirname(log), {recursive: true})
  appendFileSync(log, `${marker}\n`)
  const {pid, startTime} = spawnDetached(process.execPath, [cliBin, 'metrics', ...args], log, {PATH: process.env.PATH ?? ''})
  ledger.update(entry.id, {pid, startTime})
  // It prints "serving URL" once listening; a bind error ends it early.
  const deadline = Date.now() + 5000
  const seen = (): string => (existsSync(log) ? readFileSync(log, 'utf8').split(marker).at(-1) ?? '' : '')
  while (Date.now() < deadline) {
    const text = seen()
    if (/serving http/.test(text)) return {pid, log}
    if (/error:/.test(text)) break
    await new Promise((r) => setTimeout(r, 50))
  }
  await stopRecordedProcess({pid, startTime})
  ledger.forget([entry.id])
  throw new Error(`the exporter did not start: ${seen().trim().split('\n').slice(-2).join(' | ') || 'no output'}`)
}

/** Stop exporters started with --background. Returns how many were running. */
export async function stopExporterProcesses(ledger = new Ledger()): Promise<number> {
  const entries = ledger.find((e) => e.kind === 'process' && e.owner === OWNER)
  for (const e of entries) {
    await stopRecordedProcess(e.details)
    ledger.forget([e.id])
  }
  return entries.length
}
