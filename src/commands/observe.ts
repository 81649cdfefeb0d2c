import {Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand, untilStopped} from '../ui/base-command.js'
import {pinDirFlag} from '../ui/bpf-flags.js'
import {flowLine} from '../observe/flow-line.js'
import {OBSERVE_PAGE} from '../ui/observe-page.js'
import {KernelObservation} from '../observe/kernel-observation.js'
import type {Flow} from '../observe/flow-names.js'
import {REASON_NAMES} from '../observe/flow-filter.js'
import {observeFilter} from '../observe/flow-query.js'
import {onInterrupt} from '../host/interrupt.js'

export default class Observe extends BaseCommand {
  static summary = 'Watch the datapath decide: each verdict with its pods, reason and policy.'
  static description = `Lab 4's programs report every verdict they reach (a flow event, through the BPF ring buffer flow_events that ebpfcni_flow.h declares): which pods, which port, FORWARDED or DROPPED, why, and the rule or NetworkPolicy that decided. For a drop by isolation it names the nearest rule that did not match. Without --follow it prints the last flows (--last, default 20) and exits; with --follow it goes on until Ctrl-C. Lost events (the ring was full) are counted and shown, never hidden. One process reads the ring; a second observe (or a check) follows the first one's log instead of competing for the ring. --json prints one object per flow (NDJSON; the fields are in docs/observe.md). --web serves a page for the projector with the node's topology and the live flows, on 127.0.0.1 unless --host says otherwise. Lab 5: --node NAME shows what that node's from_pod and from_node decided (forward.bpf.c reports each verdict the same way): a redirect to a pod of the node, to another node, to the node's stack, or a drop. A flow is named with what was true when it happened: the pods that held its addresses then (a pod deleted since keeps its name, an address reused since does not lend the new pod's), and the rules and policies in force then; where no record covers that time it says unknown. A check run's own pods make traffic too: those flows are marked with the check that made them and hidden unless you add --checks. --kernel adds the packets the kernel itself drops (program "kernel", the reason by the kernel's name: NEIGH_FAILED, IP_RPFILTER, PKT_TOO_BIG...): where a packet vanished with no verdict of yours, this says why. Its tracer is removed when observe stops. Lab 6: each connect() your connect4 translated is a TRANSLATED flow (the Service's VIP and port => the backend it got, and the socket's pod), in the same ring.`
  static examples = [
    '<%= config.bin %> observe',
    '<%= config.bin %> observe --follow --pod httpbin --verdict dropped',
    '<%= config.bin %> observe --follow --reason isolated',
    '<%= config.bin %> observe --last 100 --json',
    '<%= config.bin %> observe --web',
    '<%= config.bin %> observe --node a --follow',
    '<%= config.bin %> observe --kernel --follow',
    '<%= config.bin %> observe --checks --last 50',
    '<%= config.bin %> observe --follow --verdict translated',
  ]
  static flags = {
    'pin-dir': pinDirFlag,
    node: Flags.string({
      description: "Lab 5: this node's flows (its forward.bpf.c, pinned in the node's own folder) instead of lab 4's.",
      exclusive: ['pin-dir'],
    }),
    pod: Flags.string({description: 'Only flows from or to this pod (name or IPv4 address).'}),
    verdict: Flags.string({description: 'Only this verdict.', options: ['forwarded', 'dropped', 'translated']}),
    reason: Flags.string({
      description: `Only this reason: ${REASON_NAMES.join(', ')}; with --kernel also the kernel's drop reasons by its names (NEIGH_FAILED, IP_RPFILTER…).`,
    }),
    follow: Flags.boolean({char: 'f', description: 'Keep printing flows as they happen, until Ctrl-C.'}),
    since: Flags.string({
      description:
        'Only flows at or after this moment: a duration back from now (30s, 5m, 1h30m) or a date (2026-12-07T20:15:00Z). Without --last, every such flow of the history.',
    }),
    last: Flags.integer({
      description: 'Print this many of the most recent flows first (default: 20 without --follow, 0 with it).',
      min: 0,
    }),
    json: Flags.boolean({description: 'One JSON object per flow (NDJSON) instead of lines.'}),
    checks: Flags.boolean({
      description:
        "Also the flows of check runs' own pods (marked with the check that made them); hidden by default, with a note of how many.",
    }),
    web: Flags.boolean({description: 'Serve the topology and the live flow table as a web page (implies --follow).'}),
    host: Flags.string({description: 'Address --web listens on.', default: '127.0.0.1'}),
    port: Flags.integer({description: 'Port --web listens on (0: any free port).', default: 9797, min: 0, max: 65535}),
    kernel: Flags.boolean({
      description:
        "Also the packets the kernel itself drops in the lab's pods, nodes and their host veths and bridges (no neighbour, no route, rp_filter, too big, a port down or blocking, a full queue...), with the kernel's reason (skb:kfree_skb; kernel 5.17+). Labs 1-3, with no flow ring: the kernel's drops alone.",
    }),
    netns: Flags.string({
      description: 'With --kernel: also the drops in this network namespace (ip netns name or path); repeatable.',
      multiple: true,
      dependsOn: ['kernel'],
    }),
  }
  protected rootReason = "it reads the pinned flow_events ring buffer (lab 4's, or a lab 5 node's)"

  async run(): Promise<void> {
    const {flags} = await this.parse(Observe)
    const follow = flags.follow || flags.web
    const filter = observeFilter(flags)
    const out = (f: Flow) => this.log(flags.json ? JSON.stringify(f) : flowLine(f))
    const notice = (message: string) =>
      flags.json ? this.log(JSON.stringify({notice: message})) : this.logToStderr(chalk.yellow(message))
    const {'pin-dir': pinDir, node, kernel, netns, checks} = flags
    const obs = await KernelObservation.start({
      pinDir,
      node,
      kernel,
      netns,
      filter,
      checks,
      onFlow: out,
      onNotice: notice,
    })
    const stopFeed = onInterrupt(() => obs.stop())
    try {
      const last = flags.last ?? (filter.since !== undefined ? 10_000 : follow ? 0 : 20)
      const history = await obs.readHistory(last)
      for (const f of history) out(f)
      obs.goLive()
      if (!follow && kernel) notice("the kernel's drops are shown as they happen: add --follow to see them")
      if (!follow) return this.summary(obs.lost(), history.length, flags.json, obs.hiddenChecks())
      if (flags.web) {
        const url = await obs.serve({host: flags.host, port: flags.port, page: OBSERVE_PAGE})
        this.logToStderr(`serving the flow page on ${chalk.bold(url)} (Ctrl-C to stop)`)
      }
      if (!flags.json) this.logToStderr(chalk.dim(`${obs.reading()}; Ctrl-C to stop`))
      const stopWatch = obs.keepWatch()
      await untilStopped()
      stopWatch()
    } finally {
      stopFeed()
      await obs.stop()
    }
  }

  private summary(lost: bigint, printed: number, json: boolean, hiddenChecks: number): void {
    if (json) return this.log(JSON.stringify({printed, lost: Number(lost), hiddenChecks}))
    if (hiddenChecks)
      this.logToStderr(chalk.dim(`${hiddenChecks} flow(s) of check runs' own pods hidden: --checks shows them`))
    this.logToStderr(
      chalk.dim(
        `${printed} flow(s) printed; ${lost} event(s) lost while reading${lost > 0n ? ' (the ring was full: keep observe --follow running while you test)' : ''}`,
      ),
    )
  }
}
