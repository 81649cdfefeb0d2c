import {mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {CheckSkip} from '#checks/engine.js'
import {hostPeer} from '#net/ip.js'
import {download, ping} from '#net/probes.js'
import {run, ok, describeRun} from '#host/exec.js'
import {checkOwner} from '#host/owners.js'
import {toolObject} from '#bpf/build.js'
import {readCounterSlots} from '#bpf/counters.js'
import type {NodeRecord} from '#nodes/cluster.js'
import {eventsDuring, type EventsSoFar} from '#observe/flow-feed.js'
import type {FlowEvent} from '#bpf/flow-events.js'
import type {PodRecord} from '#pods/types.js'
import type {CheckCluster, Lab5Context} from '../context.js'

export const MIB = 1024 * 1024

type Pod = PodRecord & {ip: string}

/** A command in a node's network namespace (nsenter --net: /sys/fs/bpf stays visible). */
export const inNode = (node: NodeRecord, cmd: string[]) =>
  run('nsenter', [`--net=${node.netnsPath}`, ...cmd], {timeoutMs: 10_000})

/** One end of a conversation: a pod, and the node it is on when messages should name it. */
export interface End {
  pod: Pod
  node?: string
}

/** "the pod on node a (10.243.1.2)", or just its address. */
const named = (e: End) => (e.node ? `the pod on node ${e.node} (${e.pod.ip})` : e.pod.ip)
const bothWays = (x: End, y: End) =>
  [
    [x, y],
    [y, x],
  ] as const

/** Ping both ways between two pods (both directions at once); what failed, in words. */
export async function pingPair(x: End, y: End): Promise<string[]> {
  const r = await Promise.all(
    bothWays(x, y).map(async ([from, to]) =>
      (await ping(from.pod.netnsPath, to.pod.ip, 1, 3)).ok
        ? []
        : [`ping from ${named(from)} to ${named(to)} got no reply`],
    ),
  )
  return r.flat()
}

/** 1 MiB over TCP both ways (each pod downloads from the other's httpbin); what failed, in words. */
async function transferPair(x: End, y: End): Promise<string[]> {
  const r = await Promise.all(
    bothWays(x, y).map(async ([to, from]) => {
      const d = await download(to.pod.netnsPath, `http://${from.pod.ip}/bytes/${MIB}`, 15)
      if (d.bytes === MIB) return []
      const seen = d.ok
        ? `${d.bytes} bytes arrived`
        : /did not finish within/.test(d.detail)
          ? 'it did not complete within 15 s'
          : (/wget: (.*)/.exec(d.detail)?.[1] ?? d.detail)
      const way =
        from.node && to.node
          ? `from node ${from.node}'s pod to node ${to.node}'s`
          : `from ${from.pod.ip} to ${to.pod.ip}`
      return [`1 MiB over TCP ${way}: ${seen}`]
    }),
  )
  return r.flat()
}

/** Ping, then (only when ping got through: a dropped transfer takes its whole timeout) 1 MiB each way. */
export async function talk(x: End, y: End): Promise<string[]> {
  const pings = await pingPair(x, y)
  return pings.length ? pings : transferPair(x, y)
}

const ends = (c: CheckCluster): [End, End] => [
  {pod: c.podA, node: c.a.name},
  {pod: c.podB, node: c.b.name},
]
/** Ping both ways between the pods of the two nodes; what failed, in words. */
export const pingBoth = (c: CheckCluster): Promise<string[]> => pingPair(...ends(c))
/** 1 MiB over TCP both ways between the pods of the two nodes. */
export const transferBoth = (c: CheckCluster): Promise<string[]> => transferPair(...ends(c))
/** Both, between the two nodes' pods. */
export const crossNode = (c: CheckCluster): Promise<string[]> => talk(...ends(c))

/** The host end of a node pod's eth0, in the node's namespace. */
export async function hostVeth(node: NodeRecord, pod: Pod): Promise<string> {
  const l = await hostPeer(pod.netnsPath, pod.ifname, node.netnsName)
  if (!l) throw new CheckSkip(`cannot find the host veth of pod ${pod.ip} on node ${node.name}`)
  return l.ifname
}

/** IPv4 datagrams the node's stack has forwarded (/proc/net/snmp, Ip: ForwDatagrams, in its namespace). */
export async function forwarded(node: NodeRecord): Promise<number> {
  const r = await inNode(node, ['cat', '/proc/net/snmp'])
  const [head, vals] = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('Ip:'))
    .map((l) => l.trim().split(/\s+/))
  const n = Number(vals?.[head?.indexOf('ForwDatagrams') ?? -1])
  if (!ok(r) || !Number.isFinite(n)) throw new CheckSkip(`cannot read node ${node.name}'s /proc/net/snmp`)
  return n
}

/**
 * Pod packets a node's stack may forward at most while 1 MiB crosses, for "it skipped the stack".
 * The counter counts skbs, and TCP's are up to 64 KiB (GSO): a datapath that leaves 1 MiB each
 * way to the stack moves it by about 20 to 60 here; the references move it by 0.
 */
export const FORWARDED_AT_MOST = 5

/**
 * Run `body` with ebpfcni's drop_all (TC_ACT_SHOT for everything, counted) on the egress of the
 * given host veths, each in its node; then detach and unpin it. What the body returns, and how
 * many IPv4 packets drop_all dropped meanwhile: redirect_peer skips that egress, anything else
 * (the node's stack, bpf_redirect) passes it and is dropped (the kernel selftests' test_tc_peer.c).
 */
export async function withDropAll<T>(
  ctx: Lab5Context,
  c: CheckCluster,
  veths: Array<{node: NodeRecord; veth: string}>,
  body: () => Promise<T>,
): Promise<{result: T; droppedIpv4: bigint}> {
  return withToolProgram(ctx, c, 'drop_all', async (pins) => {
    try {
      for (const {node, veth} of veths) {
        for (const cmd of [
          ['tc', 'qdisc', 'replace', 'dev', veth, 'clsact'],
          ['tc', 'filter', 'add', 'dev', veth, 'egress', 'bpf', 'da', 'pinned', join(pins, 'drop_all')],
        ]) {
          const r = await inNode(node, cmd)
          if (!ok(r)) throw new Error(`attaching drop_all to ${veth} on node ${node.name}: ${describeRun(r)}`)
        }
      }
      const result = await body()
      const [droppedIpv4] = readCounterSlots(join(pins, 'drop_counts'), 2)
      return {result, droppedIpv4}
    } finally {
      for (const {node, veth} of veths) await inNode(node, ['tc', 'filter', 'del', 'dev', veth, 'egress'])
    }
  })
}

/**
 * A program of ebpfcni's own (bpf/tool/NAME.bpf.c), pinned in a scratch dir of the node's pins, around
 * `body`. Built once into the state dir's cache (toolObject), not by clang on every run: it is not
 * the learner's code, and a build cost each step a clang run.
 */
export async function withToolProgram<T>(
  ctx: Lab5Context,
  c: CheckCluster,
  name: string,
  body: (pins: string) => Promise<T>,
): Promise<T> {
  const object = await toolObject(name, `${name} program`)
  const pins = join(c.cluster.spec.nodePinRoot, `check-${name}`)
  const entry = ctx.pods.ledger.record('dir', pins, {lab: 5, owner: checkOwner(5), details: {scratch: true}})
  // Removing the pins releases the links pinned there: Ctrl-C mid-check leaves nothing attached.
  ctx.pods.onCleanup('before-pods', () => {
    rmSync(pins, {recursive: true, force: true})
    ctx.pods.ledger.forget([entry.id])
  })
  try {
    mkdirSync(c.cluster.spec.nodePinRoot, {recursive: true})
    const load = await run('bpftool', ['prog', 'loadall', object, pins, 'type', 'classifier', 'pinmaps', pins])
    if (!ok(load)) throw new Error(`loading ${name}: ${describeRun(load)}`)
    return await body(pins)
  } finally {
    rmSync(pins, {recursive: true, force: true})
    ctx.pods.ledger.forget([entry.id])
  }
}

/**
 * The flow events a node's programs (forward.bpf.c's from_pod, from_node) reported while `body`
 * ran, as `ebpfcni observe --node` reads them; undefined when the node has no flow_events ring.
 */
export async function nodeFlowsDuring<T>(
  c: CheckCluster,
  node: NodeRecord,
  body: (soFar: EventsSoFar) => Promise<T>,
): Promise<{result: T; flows?: FlowEvent[]}> {
  const {result, events} = await eventsDuring(c.cluster.nodePinDir(node), body)
  return events ? {result, flows: events} : {result}
}

/** A few of a node's flow events, one per distinct decision, for a message. */
export function quoteNodeFlows(flows: FlowEvent[], max = 3): string {
  const seen = new Map<string, string>()
  for (const f of flows) {
    const line = `${f.direction === 'from-pod' ? 'from_pod' : 'from_node'}: ${f.src} → ${f.dst} ${f.proto} ${f.verdict}, ${f.reason.text}`
    seen.set(line, line)
  }
  return [...seen.values()].slice(0, max).join('; ') || 'no flow event'
}
