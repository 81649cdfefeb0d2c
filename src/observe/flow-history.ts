import {Ledger} from '../host/ledger.js'
import {PodHistory, type PodLife} from '../host/pod-history.js'
import {recordOf} from '../pods/service.js'
import type {PolicyHistory} from '../policy/history.js'
import type {NamingHistory} from './flow-names.js'

// What observe names past flows with: the pods' lives (host/pod-history.ts) and the policy store's
// versions (policy/history.ts). Today's pods count too, from their creation on: a pod made before
// the history was kept is still named for the time it has existed, and for no time before.

export function readNamingHistory(
  policyHistory: PolicyHistory,
  ledger = new Ledger(),
  podHistory = new PodHistory(),
): NamingHistory {
  const lives: PodLife[] = podHistory.read()
  const known = new Set(lives.map((l) => l.id))
  let pods: ReturnType<Ledger['find']> = []
  try {
    pods = ledger.find((e) => e.kind === 'pod')
  } catch {
    /* an unreadable ledger adds no pods: the history alone names them */
  }
  for (const e of pods) {
    const r = recordOf(e)
    const from = Date.parse(e.createdAt)
    if (r.ip && !known.has(e.id) && !Number.isNaN(from))
      lives.push({id: e.id, name: e.name, ip: r.ip, labels: r.labels ?? {}, from})
  }
  return {lives, versions: policyHistory.read()}
}
