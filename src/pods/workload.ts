import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {spawnDetached, stopProcess} from '../host/processes.js'
import {stateDir, distFile} from '../host/paths.js'
import {httpGet} from '../net/probes.js'
import {podOwner} from '../host/owners.js'

export const HTTPBIN_PORT = 80
const serverScript = (): string => distFile('pods/httpbin-server.js')

/**
 * Start the httpbin server inside a netns (netns runtime), recorded in the ledger
 * first, and wait until it answers on loopback inside the pod.
 */
export async function startHttpbin(
  ledger: Ledger,
  pod: {name: string; netnsPath: string; lab?: number; owner?: string},
): Promise<void> {
  const log = join(stateDir(), 'logs', `pod-${pod.name}-httpbin.log`)
  const entry = ledger.record('process', `httpbin in pod ${pod.name}`, {
    lab: pod.lab,
    owner: pod.owner ?? podOwner(pod.name),
    details: {log},
  })
  const {pid, startTime} = spawnDetached(
    'nsenter',
    [`--net=${pod.netnsPath}`, process.execPath, serverScript(), '--port', String(HTTPBIN_PORT)],
    log,
    {EBPFCNI_POD: pod.name, PATH: process.env.PATH ?? ''},
  )
  ledger.update(entry.id, {pid, startTime})
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    if (existsSync(log) && readFileSync(log, 'utf8').includes('listening')) {
      const r = await httpGet(pod.netnsPath, `http://127.0.0.1:${HTTPBIN_PORT}/get`, 1)
      if (r.ok) return
    }
    await new Promise((r) => setTimeout(r, 30))
  }
  await stopProcess(pid, startTime)
  ledger.forget([entry.id])
  const seen = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-3).join(' | ') : 'no output'
  throw new Error(`the httpbin workload in pod ${pod.name} did not start within 5 s (its log: ${seen})`)
}
