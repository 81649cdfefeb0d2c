import {UserError} from '../host/errors.js'
import {links} from '../net/ip.js'
import {Cluster, type NodeRecord} from '../nodes/cluster.js'
import {LedgerPodSource} from '../policy/pods.js'
import {PolicyStore} from '../policy/store.js'
import type {FlowEvent} from '../bpf/flow-events.js'
import {FlowFeed, NoRingError} from './flow-feed.js'
import {loggedEvents} from './flow-log.js'
import {flowMatches, type FlowFilter} from './flow-filter.js'
import {FlowNamer, NODE_PROGRAMS, type Flow} from './flow-names.js'
import {startFlowWebServer, type FlowWebServer} from './web.js'
import {readNamingHistory} from './flow-history.js'
import {readTopology} from '../topology/topology.js'

// One `observe` run: lab 4's flows (or a lab 5 node's), named and filtered. First the history
// (what earlier readers logged and what waits in the ring now), then, once live, each new flow,
// also to the projector page when it serves one (--web).

export interface ObservationOptions {
  /** Lab 4's pin folder; a node's own folder instead with `node`. */
  pinDir: string
  /** Lab 5: this node's flows (its forward.bpf.c, pinned in the node's folder). */
  node?: string
  filter: FlowFilter
  /** Each flow that matches the filter, once the history is read. */
  onFlow: (f: Flow) => void
  /** What the reader has to say: a reload followed, lost events, skipped records. */
  onNotice: (message: string) => void
  /** Show the flows of check runs' own pods too (--checks); by default they are counted and hidden. */
  checks?: boolean
}

export class Observation {
  /** The flows that matched before going live (the history), oldest first. */
  readonly history: Flow[] = []
  private live = false
  /** Flows of check runs' pods left out (without --checks). */
  hiddenChecks = 0
  private nodeLinks = new Map<number, string>()
  private readonly namer: FlowNamer
  private feed!: FlowFeed
  private web?: FlowWebServer

  private constructor(
    private readonly opts: ObservationOptions,
    readonly pinDir: string,
    private readonly node?: NodeRecord,
  ) {
    const store = new PolicyStore()
    const pods = new LedgerPodSource()
    this.namer = new FlowNamer({
      pods: () => pods.list(),
      policyState: () => store.read(),
      // Each flow is named with the pods and the policy store of its own time.
      history: () => readNamingHistory(store.history),
      ...(node ? {links: () => this.nodeLinks, programs: NODE_PROGRAMS} : {}),
    })
  }

  /** Start reading; a missing ring is a UserError saying what loads it. */
  static async start(opts: ObservationOptions): Promise<Observation> {
    // Lab 5: a node's programs run in its network namespace and pin in its own folder.
    let node: NodeRecord | undefined
    let pinDir = opts.pinDir
    if (opts.node !== undefined) {
      const cluster = new Cluster()
      node = cluster.get(opts.node)
      pinDir = cluster.nodePinDir(node)
    }
    const obs = new Observation(opts, pinDir, node)
    await obs.readNodeLinks()
    obs.feed = obs.startFeed()
    return obs
  }

  /** Whether this run reads the ring itself or follows another observe's log. */
  get mode(): FlowFeed['mode'] {
    return this.feed.mode
  }

  ownerPid(): number | undefined {
    return this.feed.ownerPid()
  }

  /** Events lost since the run started. */
  lost(): bigint {
    return this.feed.lost()
  }

  /**
   * The history: the last `last` matching flows from the log and the ring (none with 0). After it
   * the run is live: new flows go to onFlow.
   */
  async readHistory(last: number): Promise<Flow[]> {
    // Filters drop some: read well past `last` raw events.
    if (last) for (const e of loggedEvents(this.pinDir, Math.max(last * 10, 20_000))) this.take(e)
    await this.feed.drainNow()
    return last ? this.history.slice(-last) : []
  }

  /** From now on each matching flow goes to onFlow. */
  goLive(): void {
    this.live = true
  }

  /**
   * While following: lost events are said as they happen (never hidden), and a node's host veths
   * are read again now and then (its pods come and go). Returns what stops it.
   */
  keepWatch(): () => void {
    let reported = 0n
    const linksTimer = this.node ? setInterval(() => void this.readNodeLinks().catch(() => undefined), 2000) : undefined
    const lostTimer = setInterval(() => {
      const lost = this.feed.lost()
      if (lost > reported)
        this.opts.onNotice(`${lost - reported} event(s) lost: the ring was full (total ${lost} since observe started)`)
      reported = lost
    }, 1000)
    return () => {
      clearInterval(lostTimer)
      clearInterval(linksTimer)
    }
  }

  /** Serve the page (`page`, from ui/) with the node's topology and the flows: the history's last 200, then each new one. */
  async serve(where: {host: string; port: number; page: string}): Promise<string> {
    const web = await startFlowWebServer({...where, topology: () => readTopology()})
    this.web = web
    for (const f of this.history.slice(-200)) web.publish(f)
    return web.url
  }

  /** A flow from elsewhere (the kernel's drops) onto the page this run serves. */
  publish(f: Flow): void {
    this.web?.publish(f)
  }

  /** Stop reading (the ring goes to the next reader) and serving. */
  async stop(): Promise<void> {
    this.feed.stop()
    await this.web?.close()
  }

  private take(e: FlowEvent): void {
    const f = this.namer.name(e)
    if (!flowMatches(f, this.opts.filter)) return
    if (f.check && !this.opts.checks) return void this.hiddenChecks++
    if (!this.live) return void this.history.push(f)
    this.opts.onFlow(f)
    this.web?.publish(f)
  }

  private async readNodeLinks(): Promise<void> {
    if (this.node) this.nodeLinks = new Map((await links(this.node.netnsName)).map((l) => [l.ifindex, l.ifname]))
  }

  private startFeed(): FlowFeed {
    try {
      return FlowFeed.start({
        pinDir: this.pinDir,
        onEvent: (e) => this.take(e),
        onNotice: (n) => this.opts.onNotice(n.message),
      })
    } catch (err) {
      if (err instanceof NoRingError && this.node)
        throw new UserError(
          `node ${this.node.name} has no flow_events ring (${this.pinDir}/flow_events): its plugin has not loaded forward.bpf.c yet`,
          {
            hint: `the plugin loads it with the node's first pod: ebpfcni pod add NAME --node ${this.node.name}, with lab 5's step 3 done`,
          },
        )
      if (err instanceof NoRingError)
        throw new UserError(err.message, {
          hint: "flow events come from lab 4 on (its programs report them through ebpfcni_flow.h); the kernel's own drops need no program: ebpfcni observe --kernel (lab 1 on); in labs 2 and 3, look at your program with ebpfcni bpf trace and ebpfcni bpf maps",
        })
      throw err
    }
  }
}
