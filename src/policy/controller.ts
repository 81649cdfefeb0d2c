import {existsSync, readFileSync} from 'node:fs'
import {errorMessage} from '../host/errors.js'
import {parseNetworkPolicy} from './networkpolicy.js'
import type {PolicyService} from './service.js'
import {watchPath} from './pods.js'

// `ebpfcni policy watch`: keeps the maps in line as pods come and go and policy files change.
// Event-driven (pod records, the policy state, the applied files), debounced, one sync at a
// time; each sync is a diff, so rules that stay are never rewritten or briefly absent.

export interface ControllerEvent {
  reason: string
  written?: number
  removed?: number
  error?: string
  durationMs?: number
}

export class PolicyController {
  private readonly stops: Array<() => void> = []
  private timer?: NodeJS.Timeout
  private running: Promise<void> = Promise.resolve()
  private readonly reasons = new Set<string>()
  private readonly watchedFiles = new Map<string, string>()
  /** Why the controller polls, when file events do not arrive here (a synced folder). */
  polling?: string

  constructor(
    private readonly service: PolicyService,
    private readonly opts: {debounceMs?: number; onEvent?: (e: ControllerEvent) => void} = {},
  ) {}

  async start(): Promise<void> {
    this.stops.push(this.service.pods.subscribe(() => this.trigger('pods changed')))
    this.watch(this.service.store.path, 'policy state changed')
    this.refreshFileWatches()
    this.trigger('start')
    await this.idle()
  }

  /** Resolves when no sync is pending or running. */
  async idle(): Promise<void> {
    while (this.timer || this.reasons.size) {
      await this.running
      await new Promise((r) => setTimeout(r, 10))
    }
    await this.running
  }

  private watch(path: string, reason: string): void {
    const w = watchPath(path, () => this.trigger(reason))
    this.polling ??= w.polling
    this.stops.push(w.stop)
  }

  /** Watch the file each applied policy came from: editing it re-applies it. */
  private refreshFileWatches(): void {
    for (const [name, p] of Object.entries(this.service.store.read().policies)) {
      if (p.source && !this.watchedFiles.has(p.source)) {
        this.watchedFiles.set(p.source, name)
        this.watch(p.source, `${p.source} changed`)
      }
    }
  }

  private trigger(reason: string): void {
    this.reasons.add(reason)
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      const why = [...this.reasons].join(', ')
      this.reasons.clear()
      this.running = this.running.then(() => this.reconcile(why))
    }, this.opts.debounceMs ?? 100)
  }

  private async reconcile(reason: string): Promise<void> {
    const t0 = performance.now()
    try {
      // Re-read applied files that changed on disk; a broken edit keeps the last good policy.
      for (const [file, name] of this.watchedFiles) {
        if (!reason.includes(`${file} changed`) || !existsSync(file)) continue
        try {
          const spec = parseNetworkPolicy(readFileSync(file, 'utf8'), file)
          if (spec.name !== name)
            throw new Error(`metadata.name changed from ${name} to ${spec.name}; apply it as a new policy`)
          this.service.store.putPolicy(spec, file)
        } catch (err) {
          // One line in the log: a YAML error's code frame follows its first line.
          const first = errorMessage(err).split('\n')[0]
          this.opts.onEvent?.({reason, error: `${first} (keeping the last good version)`})
        }
      }
      this.refreshFileWatches()
      const r = await this.service.sync()
      this.opts.onEvent?.({reason, written: r.written, removed: r.removed, durationMs: performance.now() - t0})
    } catch (err) {
      this.opts.onEvent?.({reason, error: errorMessage(err)})
    }
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.reasons.clear()
    for (const s of this.stops.splice(0)) s()
  }
}
