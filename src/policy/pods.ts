import {watchFiles} from '../host/file-watch.js'
import {basename, dirname} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {ledgerPath} from '../host/paths.js'
import {PodService} from '../pods/service.js'
import {CriClient} from '../pods/cri/client.js'
import {containerdSocket} from '../pods/cri/daemon.js'
import {netnsFromInfo} from '../pods/cri-runtime.js'
import type {PolicyPod} from './resolve.js'

// Where the policy layer learns which pods exist: the tool's pod records (the ledger), or
// for checks an in-memory list. subscribe() calls back when the set may have changed.

export interface PodSource {
  list(): PolicyPod[]
  subscribe(onChange: () => void): () => void
}

/** Watch one file for content changes; `polling` says why when file events cannot be had. */
export function watchPath(
  path: string,
  onChange: () => void,
  opts: {debounceMs?: number} = {},
): {stop: () => void; polling?: string} {
  return watchFiles(dirname(path), [basename(path)], () => onChange(), {debounceMs: opts.debounceMs ?? 0})
}

export class LedgerPodSource implements PodSource {
  constructor(
    private readonly ledger = new Ledger(),
    private readonly path = ledgerPath(),
  ) {}

  list(): PolicyPod[] {
    return new PodService(this.ledger)
      .list()
      .flatMap((p) =>
        p.ip ? [{name: p.name, ip: p.ip, labels: p.labels ?? {}, netnsPath: p.netnsPath || undefined}] : [],
      )
  }

  subscribe(onChange: () => void): () => void {
    return watchPath(this.path, onChange).stop
  }
}

export class MemoryPodSource implements PodSource {
  private readonly listeners = new Set<() => void>()
  constructor(private pods: PolicyPod[] = []) {}

  list(): PolicyPod[] {
    return [...this.pods]
  }

  add(p: PolicyPod): void {
    this.pods.push(p)
    for (const l of this.listeners) l()
  }

  remove(name: string): void {
    this.pods = this.pods.filter((p) => p.name !== name)
    for (const l of this.listeners) l()
  }

  subscribe(onChange: () => void): () => void {
    this.listeners.add(onChange)
    return () => this.listeners.delete(onChange)
  }
}

/** Labels the runtime or ebpfcni adds to a sandbox; a policy selects on the pod's own. */
const SYSTEM_LABEL = /^(io\.kubernetes\.|ebpfcni\.)/

/**
 * Pods as the CRI runtime knows them, as the original controller knew them from the Kubernetes
 * API: ListPodSandbox for the ready sandboxes and their labels, PodSandboxStatus for each IP.
 * The list is refreshed by polling (CRI has no watch for sandboxes); call refresh() once first.
 */
export class CriPodSource implements PodSource {
  private pods: PolicyPod[] = []

  constructor(
    private readonly address = containerdSocket(),
    private readonly pollMs = 1000,
  ) {}

  list(): PolicyPod[] {
    return [...this.pods]
  }

  /** Read the sandboxes again; true when the set of pods, addresses or labels changed. */
  async refresh(): Promise<boolean> {
    const client = new CriClient(this.address)
    try {
      const ready = (await client.listPodSandbox()).filter((s) => s.state === 'SANDBOX_READY')
      const pods: PolicyPod[] = []
      for (const s of ready) {
        const {status, info} = await client.podSandboxStatus(s.id)
        const ip = status.network?.ip
        if (!ip) continue
        pods.push({
          name: s.metadata.name,
          ip,
          labels: Object.fromEntries(Object.entries(s.labels).filter(([k]) => !SYSTEM_LABEL.test(k))),
          netnsPath: netnsFromInfo(info),
          namespace: s.metadata.namespace || undefined,
        })
      }
      pods.sort((a, b) => a.name.localeCompare(b.name))
      const changed = JSON.stringify(pods) !== JSON.stringify(this.pods)
      this.pods = pods
      return changed
    } finally {
      client.close()
    }
  }

  subscribe(onChange: () => void): () => void {
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      this.refresh()
        .then(
          (changed) => changed && onChange(),
          () => undefined,
        )
        .finally(() => (busy = false))
    }, this.pollMs)
    return () => clearInterval(timer)
  }
}
