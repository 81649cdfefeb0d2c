import {Flags} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand, untilStopped} from '../ui/base-command.js'
import {pinDirFlag} from '../ui/bpf-flags.js'
import {flowLine} from '../observe/flow-line.js'
import {OBSERVE_PAGE} from '../ui/observe-page.js'
import {FlowFeed, NoRingError} from '../observe/flow-feed.js'
import {loggedEvents} from '../observe/flow-log.js'
import {FlowNamer, NODE_PROGRAMS, type Flow} from '../observe/flow-names.js'
import {flowMatches, REASON_NAMES, type FlowFilter} from '../observe/flow-filter.js'
import {startFlowWebServer} from '../observe/web.js'
import {readTopology} from '../topology/topology.js'
import {LedgerPodSource} from '../policy/pods.js'
import {PolicyStore} from '../policy/store.js'
import {onInterrupt} from '../host/interrupt.js'
import {UserError} from '../host/errors.js'
import type {FlowEvent} from '../bpf/flow-events.js'
import {Cluster, type NodeRecord} from '../nodes/cluster.js'
import {links} from '../net/ip.js'

export default class Observe extends BaseCommand {
  static summary = 'Watch the datapath decide: each verdict with its pods, reason and policy.'
  static description = `Lab 4's programs report every verdict they reach (a flow event, through the BPF ring buffer flow_events that ebpfcni_flow.h declares): which pods, which port, FORWARDED or DROPPED, why, and the rule or NetworkPolicy that decided. For a drop by isolation it names the nearest rule that did not match. Without --follow it prints the last flows (--last, default 20) and exits; with --follow it goes on until Ctrl-C. Lost events (the ring was full) are counted and shown, never hidden. One process reads the ring; a second observe (or a check) follows the first one's log instead of competing for the ring. --json prints one object per flow (NDJSON; the fields are in docs/observe.md). --web serves a page for the projector with the node's topology and the live flows, on 127.0.0.1 unless --host says otherwise. Lab 5: --node NAME shows what that node's from_pod and from_node decided (forward.bpf.c reports each verdict the same way): a redirect to a pod of the node, to another node, to the node's stack, or a drop.`
  static examples = [
    '<%= config.bin %> observe',
    '<%= config.bin %> observe --follow --pod httpbin --verdict dropped',
    '<%= config.bin %> observe --follow --reason isolated',
    '<%= config.bin %> observe --last 100 --json',
    '<%= config.bin %> observe --web',
    '<%= config.bin %> observe --node a --follow',
  ]
  static flags = {
    'pin-dir': pinDirFlag,
    node: Flags.string({
      description: "Lab 5: this node's flows (its forward.bpf.c, pinned in the node's own folder) instead of lab 4's.",
      exclusive: ['pin-dir'],
    }),
    pod: Flags.string({description: 'Only flows from or to this pod (name or IPv4 address).'}),
    verdict: Flags.string({description: 'Only this verdict.', options: ['forwarded', 'dropped']}),
    reason: Flags.string({description: 'Only this reason.', options: REASON_NAMES}),
    follow: Flags.boolean({char: 'f', description: 'Keep printing flows as they happen, until Ctrl-C.'}),
    last: Flags.integer({
      description: 'Print this many of the most recent flows first (default: 20 without --follow, 0 with it).',
      min: 0,
    }),
    json: Flags.boolean({description: 'One JSON object per flow (NDJSON) instead of lines.'}),
    web: Flags.boolean({description: 'Serve the topology and the live flow table as a web page (implies --follow).'}),
    host: Flags.string({description: 'Address --web listens on.', default: '127.0.0.1'}),
    port: Flags.integer({description: 'Port --web listens on (0: any free port).', default: 9797, min: 0, max: 65535}),
  }
  protected rootReason = "it reads the pinned flow_events ring buffer (lab 4's, or a lab 5 node's)"

  async run(): Promise<void> {
    const {flags} = await this.parse(Observe)
    const follow = flags.follow || flags.web
    const filter: FlowFilter = {
      pod: flags.pod,
      verdict: flags.verdict as FlowFilter['verdict'],
      reason: flags.reason,
    }
    const store = new PolicyStore()
    const pods = new LedgerPodSource()
    // Lab 5: a node's programs run in its network namespace and pin in its own folder.
    let node: NodeRecord | undefined
    let pinDir = flags['pin-dir']
    if (flags.node !== undefined) {
      const cluster = new Cluster()
      node = cluster.get(flags.node)
      pinDir = cluster.nodePinDir(node)
    }
    let nodeLinks = new Map<number, string>()
    const readNodeLinks = async () => {
      if (node) nodeLinks = new Map((await links(node.netnsName)).map((l) => [l.ifindex, l.ifname]))
    }
    await readNodeLinks()
    const namer = new FlowNamer({
      pods: () => pods.list(),
      policyState: () => store.read(),
      ...(node ? {links: () => nodeLinks, programs: NODE_PROGRAMS} : {}),
    })
    const out = (f: Flow) => this.log(flags.json ? JSON.stringify(f) : flowLine(f))
    const notice = (message: string) =>
      flags.json ? this.log(JSON.stringify({notice: message})) : this.logToStderr(chalk.yellow(message))

    const shown: Flow[] = []
    let live = false
    let web: Awaited<ReturnType<typeof startFlowWebServer>> | undefined
    const take = (e: FlowEvent) => {
      const f = namer.name(e)
      if (!flowMatches(f, filter)) return
      if (!live) return void shown.push(f)
      out(f)
      web?.publish(f)
    }
    let feed: FlowFeed
    try {
      feed = FlowFeed.start({pinDir, onEvent: take, onNotice: (n) => notice(n.message)})
    } catch (err) {
      if (err instanceof NoRingError && node)
        throw new UserError(
          `node ${node.name} has no flow_events ring (${pinDir}/flow_events): its plugin has not loaded forward.bpf.c yet`,
          {
            hint: `the plugin loads it with the node's first pod: ebpfcni pod add NAME --node ${node.name}, with lab 5's step 3 done`,
          },
        )
      if (err instanceof NoRingError) throw new UserError(err.message, {hint: 'start lab 4: ebpfcni lab 4'})
      throw err
    }
    const stopFeed = onInterrupt(async () => {
      feed.stop()
      await web?.close()
    })
    try {
      // History first: what earlier readers drained (the log) and what waits in the ring now.
      const last = flags.last ?? (follow ? 0 : 20)
      // Filters drop some: read well past `last` raw events.
      if (last) for (const e of loggedEvents(pinDir, Math.max(last * 10, 20_000))) take(e)
      await feed.drainNow()
      for (const f of last ? shown.slice(-last) : []) out(f)
      live = true
      if (!follow) {
        this.summary(feed, Math.min(last, shown.length), flags.json)
        return
      }
      if (flags.web) {
        web = await startFlowWebServer({
          host: flags.host,
          port: flags.port,
          page: OBSERVE_PAGE,
          topology: () => readTopology(),
        })
        for (const f of shown.slice(-200)) web.publish(f)
        this.logToStderr(`serving the flow page on ${chalk.bold(web.url)} (Ctrl-C to stop)`)
      }
      if (!flags.json)
        this.logToStderr(
          chalk.dim(
            feed.mode === 'owner'
              ? 'reading flow_events; Ctrl-C to stop'
              : `following the flows observe pid ${feed.ownerPid()} reads; Ctrl-C to stop`,
          ),
        )
      // Lost events are said as they happen, never hidden.
      let reported = 0n
      // A node's pods come and go: their host veths' names are read again now and then.
      const linksTimer = node ? setInterval(() => void readNodeLinks().catch(() => undefined), 2000) : undefined
      const lostTimer = setInterval(() => {
        const lost = feed.lost()
        if (lost > reported)
          notice(`${lost - reported} event(s) lost: the ring was full (total ${lost} since observe started)`)
        reported = lost
      }, 1000)
      await untilStopped()
      clearInterval(lostTimer)
      clearInterval(linksTimer)
    } finally {
      stopFeed()
      feed.stop()
      await web?.close()
    }
  }

  private summary(feed: FlowFeed, printed: number, json: boolean): void {
    const lost = feed.lost()
    if (json) return this.log(JSON.stringify({printed, lost: Number(lost)}))
    this.logToStderr(
      chalk.dim(
        `${printed} flow(s) printed; ${lost} event(s) lost while reading${lost > 0n ? ' (the ring was full: keep observe --follow running while you test)' : ''}`,
      ),
    )
  }
}
