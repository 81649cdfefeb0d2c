import {statSync} from 'node:fs'
import {isAbsolute} from 'node:path'
import {run, ok} from '../host/exec.js'
import {netnsPath, type IpLink} from '../net/ip.js'
import {Cluster} from '../nodes/cluster.js'
import {LedgerPodSource} from '../policy/pods.js'
import type {PolicyPod} from '../policy/resolve.js'
import {KernelDropTracer, type DropScope, type KernelDrop} from '../bpf/kernel-drops.js'
import type {DropReasons} from '../bpf/drop-reasons.js'
import type {Flow, FlowEnd} from './flow-names.js'

// `observe --kernel`: the packets the kernel drops in the lab (no neighbour, no route, rp_filter,
// too big, a port down or blocking...), as flows in the same stream as the programs' verdicts.
// The tracer reports only the lab's namespaces and interfaces: every pod's and lab 5 node's
// namespace whole, in the host's namespace the pods' host veths and the bridges they are on, and
// any namespace named with --netns. They are read again every 2 s (pods come and go); between two
// readings, a drop in a namespace deleted meanwhile is not shown (stillLab). The tracer leaves out
// QUEUE_PURGE (bpf/tool/kernel_drops.bpf.c says why).

const DRAIN_MS = 20
const SCOPE_MS = 2000

/** A namespace the lab owns, and what to call it. */
interface LabNetns {
  path: string
  label: string
}

/** How a drop is named: its namespace and interface by their names. */
interface Names {
  netns: Map<number, string>
  /** Each lab namespace's path, by the inode it had when the scopes were read. */
  paths: Map<number, string>
  links: Map<string, string>
  pods: PolicyPod[]
}

export interface KernelDropOptions {
  onFlow: (f: Flow) => void
  onNotice: (message: string) => void
  /** More namespaces to watch whole: `ip netns` names or paths. */
  netns?: string[]
  /** Tests: another reason table than the running kernel's. */
  reasons?: DropReasons
}

async function linksIn(path?: string): Promise<IpLink[]> {
  const r = await run(path ? 'nsenter' : 'ip', [...(path ? [`--net=${path}`, 'ip'] : []), '-j', '-d', 'link', 'show'], {
    timeoutMs: 5000,
  })
  return ok(r) && r.stdout.trim() ? (JSON.parse(r.stdout) as IpLink[]) : []
}

const inode = (path: string): number | undefined => {
  try {
    return statSync(path).ino
  } catch {
    return undefined
  }
}

/** The lab's namespaces now: pods', lab 5 nodes', and the ones asked for. */
function labNamespaces(pods: PolicyPod[], extra: string[]): LabNetns[] {
  const out: LabNetns[] = pods.flatMap((p) => (p.netnsPath ? [{path: p.netnsPath, label: `pod ${p.name}`}] : []))
  try {
    for (const n of new Cluster().list()) out.push({path: n.netnsPath, label: `node ${n.name}`})
  } catch {
    /* no cluster: lab 5 not started */
  }
  for (const e of extra) out.push({path: isAbsolute(e) ? e : netnsPath(e), label: `netns ${e}`})
  return out
}

/**
 * Where to trace, and the names to show: each lab namespace whole; in this process's namespace (the
 * host's; /proc/1 may not be readable), the veth whose peer is in one of them (matched both ways by
 * index, never by name) and its bridge.
 */
export async function dropScopes(lab: LabNetns[]): Promise<{scopes: DropScope[]; names: Omit<Names, 'pods'>}> {
  const hostNs = inode('/proc/self/ns/net') ?? 0
  const host = await linksIn()
  const scopes: DropScope[] = []
  const names: Omit<Names, 'pods'> = {netns: new Map([[hostNs, 'host']]), paths: new Map(), links: new Map()}
  for (const l of host) names.links.set(`${hostNs}/${l.ifindex}`, l.ifname)
  for (const ns of lab) {
    const ino = inode(ns.path)
    if (ino === undefined || ino === hostNs) continue
    scopes.push({netns: ino, ifindex: 0})
    names.netns.set(ino, ns.label)
    names.paths.set(ino, ns.path)
    for (const l of await linksIn(ns.path)) {
      names.links.set(`${ino}/${l.ifindex}`, l.ifname)
      const peer = l.link_index ? host.find((h) => h.ifindex === l.link_index && h.link_index === l.ifindex) : undefined
      if (!peer) continue
      scopes.push({netns: hostNs, ifindex: peer.ifindex})
      const bridge = peer.master ? host.find((h) => h.ifname === peer.master) : undefined
      if (bridge) scopes.push({netns: hostNs, ifindex: bridge.ifindex})
    }
  }
  return {scopes, names}
}

/** A kernel drop as a flow: the pods by address, the interface and namespace by name. */
export function kernelDropFlow(d: KernelDrop, names: Names, wallOffsetMs: number): Flow {
  const end = (ip: string, port: number): FlowEnd => {
    const pod = ip ? names.pods.find((p) => p.ip === ip) : undefined
    return pod ? {ip, port, pod: pod.name, labels: pod.labels} : {ip, port}
  }
  const where = names.netns.get(d.netns) ?? `netns ${d.netns}`
  const dev = d.ifindex ? (names.links.get(`${d.netns}/${d.ifindex}`) ?? `ifindex ${d.ifindex}`) : undefined
  const src = end(d.src, d.sport)
  return {
    time: new Date(wallOffsetMs + Number(d.tsNs / 1_000_000n)).toISOString(),
    verdict: 'DROPPED',
    reason: d.reason,
    reasonText: `${d.known ? d.reason : `${d.reason} (unknown to this kernel's BTF)`}: dropped by the kernel${dev ? ` on ${dev}` : ''} in ${where}`,
    direction: src.pod ? 'from-pod' : 'to-pod',
    program: 'kernel',
    proto: d.proto,
    tcpFlags: d.tcpFlags,
    src,
    dst: end(d.dst, d.dport),
    ifindex: d.ifindex,
    ...(dev ? {interface: dev} : {}),
    namespace: where,
  }
}

/** The tracer, its scopes kept up to date, its drops handed over as flows. */
export class KernelDropWatch {
  private timers: NodeJS.Timeout[] = []
  private names: Names = {netns: new Map(), paths: new Map(), links: new Map(), pods: []}
  private readonly wallOffsetMs = Date.now() - Number(process.hrtime.bigint() / 1_000_000n)
  private reported = 0n
  private constructor(
    private readonly o: KernelDropOptions,
    private readonly tracer: KernelDropTracer,
  ) {}

  /** Load and attach the tracer; undefined (said once, through onNotice) where the kernel cannot. */
  static async start(o: KernelDropOptions): Promise<KernelDropWatch | undefined> {
    let w: KernelDropWatch | undefined
    try {
      const tracer = await KernelDropTracer.start(
        (d) => w && w.stillLab(d) && o.onFlow(kernelDropFlow(d, w.names, w.wallOffsetMs)),
        (why) => o.onNotice(`skipped a kernel-drop record: ${why}`),
        o.reasons,
      )
      w = new KernelDropWatch(o, tracer)
    } catch (err) {
      o.onNotice(`kernel drops are not shown: ${(err as Error).message}`)
      return undefined
    }
    await w.rescope()
    w.timers.push(setInterval(() => w.drain(), DRAIN_MS))
    w.timers.push(setInterval(() => void w.rescope().catch(() => undefined), SCOPE_MS))
    return w
  }

  /**
   * Whether a drop's namespace is still the lab's. The tracer knows a namespace by its inode
   * number, and the kernel gives a deleted namespace's number to the next one made (another
   * user's, a test's): until the next rescope, drops there would be named after the deleted pod.
   * A lab namespace whose path is gone or names another inode now is no longer the lab's; its
   * last packets, purged as it is torn down, go with it.
   */
  stillLab(d: KernelDrop): boolean {
    const path = this.names.paths.get(d.netns)
    return path === undefined || inode(path) === d.netns
  }

  /** The namespaces and interfaces traced now (tests and --json). */
  scopeCount = 0

  private async rescope(): Promise<void> {
    const pods = (() => {
      try {
        return new LedgerPodSource().list()
      } catch {
        return []
      }
    })()
    const {scopes, names} = await dropScopes(labNamespaces(pods, this.o.netns ?? []))
    this.names = {...names, pods}
    this.tracer.setScopes(scopes)
    this.scopeCount = scopes.length
  }

  /** Hand over every drop so far, and say (once per growth) when the ring was full. */
  drain(): void {
    try {
      this.tracer.consume()
      const lost = this.tracer.lost()
      if (lost > this.reported)
        this.o.onNotice(`${lost - this.reported} kernel drop(s) lost: the tracer's ring was full (total ${lost})`)
      this.reported = lost
    } catch (err) {
      this.o.onNotice(`reading kernel drops: ${(err as Error).message}`)
    }
  }

  /** Detach the tracer: nothing of it stays in the kernel. */
  stop(): void {
    this.timers.forEach((t) => clearInterval(t))
    this.timers = []
    this.drain()
    this.tracer.stop()
  }
}
