import {UserError} from '../host/errors.js'
import {startFlowWebServer, type FlowWebServer} from './web.js'
import {readTopology} from '../topology/topology.js'
import {flowMatches} from './flow-filter.js'
import type {Flow} from './flow-names.js'
import {KernelDropWatch} from './kernel-drops.js'
import {Observation, type ObservationOptions} from './observation.js'

// observe with --kernel: the programs' flows (when a lab 4 or lab 5 ring is pinned) and the
// kernel's own drops in one stream. Labs 1 to 3 have no ring: then the kernel's drops alone.

export interface KernelObservationOptions extends ObservationOptions {
  /** Also the kernel's drops (skb:kfree_skb with its reason) in the lab's namespaces. */
  kernel?: boolean
  /** More namespaces whose kernel drops to show (ip netns names or paths). */
  netns?: string[]
}

/** What observe drives: an Observation, with or without the kernel's drops, or the kernel's drops alone. */
export class KernelObservation {
  private live = false
  private web?: FlowWebServer

  private constructor(
    private readonly opts: KernelObservationOptions,
    private readonly inner?: Observation,
    private watch?: KernelDropWatch,
  ) {}

  static async start(opts: KernelObservationOptions): Promise<KernelObservation> {
    if (!opts.kernel && !opts.netns?.length) return new KernelObservation(opts, await Observation.start(opts))
    const holder: {obs?: KernelObservation} = {}
    const watch = await KernelDropWatch.start({
      netns: opts.netns,
      onNotice: opts.onNotice,
      onFlow: (f) => holder.obs?.takeKernel(f),
    })
    try {
      holder.obs = new KernelObservation(opts, await Observation.start(opts), watch)
    } catch (err) {
      if (!(err instanceof UserError) || !watch) {
        watch?.stop()
        throw err
      }
      opts.onNotice(`${err.message}: showing the kernel's drops only`)
      holder.obs = new KernelObservation(opts, undefined, watch)
    }
    return holder.obs
  }

  get mode(): 'owner' | 'follower' {
    return this.inner?.mode ?? 'owner'
  }

  /** What a live run reads, in words: the ring, the owner's log, the kernel's drops. */
  reading(): string {
    const kernel = this.watch ? "the kernel's drops" : undefined
    if (!this.inner) return `reading ${kernel}`
    const flows =
      this.inner.mode === 'owner'
        ? 'reading flow_events'
        : `following the flows observe pid ${this.inner.ownerPid()} reads`
    return kernel ? `${flows} and ${kernel}` : flows
  }

  ownerPid(): number | undefined {
    return this.inner ? this.inner.ownerPid() : process.pid
  }

  lost(): bigint {
    return this.inner?.lost() ?? 0n
  }

  /** Flows of check runs' pods left out (without --checks). */
  hiddenChecks(): number {
    return this.inner?.hiddenChecks ?? 0
  }

  /** The programs' history (the kernel's drops have none: they are shown from now on). */
  async readHistory(last: number): Promise<Flow[]> {
    return this.inner ? this.inner.readHistory(last) : []
  }

  goLive(): void {
    this.inner?.goLive()
    this.live = true
  }

  keepWatch(): () => void {
    return this.inner?.keepWatch() ?? (() => undefined)
  }

  async serve(where: {host: string; port: number; page: string}): Promise<string> {
    if (this.inner) return this.inner.serve(where)
    this.web = await startFlowWebServer({...where, topology: () => readTopology()})
    return this.web.url
  }

  async stop(): Promise<void> {
    this.watch?.stop()
    this.watch = undefined
    await this.inner?.stop()
    await this.web?.close()
  }

  private takeKernel(f: Flow): void {
    if (!this.live || !flowMatches(f, this.opts.filter)) return
    this.opts.onFlow(f)
    // With a ring too, the page is the Observation's: the kernel's drops go there beside the programs' verdicts.
    if (this.inner) this.inner.publish(f)
    else this.web?.publish(f)
  }
}
