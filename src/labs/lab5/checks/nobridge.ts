import {mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {fail, CheckSkip, type CheckDefinition} from '../../../checks/engine.js'
import {links, hostPeer} from '../../../net/ip.js'
import {download, ping} from '../../../net/probes.js'
import {run, ok, describeRun} from '../../../host/exec.js'
import {packageRoot} from '../../../host/paths.js'
import {checkOwner} from '../../../host/owners.js'
import {buildBpf} from '../../../bpf/build.js'
import {readCounterSlots} from '../../../bpf/counters.js'
import type {PodRecord} from '../../../pods/types.js'
import type {NodeRecord} from '../../../nodes/cluster.js'
import type {Lab5Context} from '../context.js'
import {MIB} from './shared.js'

// Step 3: the node's pods without a bridge, handed over with bpf_redirect_peer. Each check proves
// its own packets' fate: the pods talk; a TC_ACT_SHOT program on the destination veths' egress
// (ebpfcni's bpf/tool/drop_all.bpf.c) does not stop them and drops no IPv4 packet;
// the node's IPv4 forwarding counter does not move while they talk.

type Pod = PodRecord & {ip: string}

const inNode = (node: NodeRecord, cmd: string[]) =>
  run('nsenter', [`--net=${node.netnsPath}`, ...cmd], {timeoutMs: 10_000})

/** Ping and 1 MiB over TCP between two pods, both ways; what failed, in words. */
async function talk(x: Pod, y: Pod): Promise<string[]> {
  const pairs = [
    [x, y],
    [y, x],
  ] as const
  const pings = await Promise.all(
    pairs.map(async ([from, to]) =>
      (await ping(from.netnsPath, to.ip, 1, 3)).ok ? [] : [`ping from ${from.ip} to ${to.ip} got no reply`],
    ),
  )
  if (pings.flat().length) return pings.flat()
  const moved = await Promise.all(
    pairs.map(async ([from, to]) => {
      const d = await download(from.netnsPath, `http://${to.ip}/bytes/${MIB}`, 15)
      return d.bytes === MIB
        ? []
        : [`1 MiB over TCP from ${to.ip} to ${from.ip}: ${d.ok ? `${d.bytes} bytes arrived` : d.detail}`]
    }),
  )
  return moved.flat()
}

/** The host end of a node pod's eth0, in the node's namespace. */
async function hostVeth(node: NodeRecord, pod: Pod): Promise<string> {
  const l = await hostPeer(pod.netnsPath, pod.ifname, node.netnsName)
  if (!l) throw new CheckSkip(`cannot find the host veth of pod ${pod.ip} on node ${node.name}`)
  return l.ifname
}

/** IPv4 datagrams the node's stack has forwarded (/proc/net/snmp, Ip: ForwDatagrams, in its namespace). */
async function forwarded(node: NodeRecord): Promise<number> {
  const r = await inNode(node, ['cat', '/proc/net/snmp'])
  const [head, vals] = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('Ip:'))
    .map((l) => l.trim().split(/\s+/))
  const n = Number(vals?.[head?.indexOf('ForwDatagrams') ?? -1])
  if (!ok(r) || !Number.isFinite(n)) throw new CheckSkip(`cannot read node ${node.name}'s /proc/net/snmp`)
  return n
}

/** Pod packets the node's stack forwarded at most, while 1 MiB crosses, for "it skipped the stack". */
const FORWARDED_AT_MOST = 100

export const NOBRIDGE_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.no-bridge',
    title: 'no bridge on the node, and two of its pods ping each other and move 1 MiB over TCP',
    hint: '"noBridge": true in 10-ebpfcni.conf, then wire_pod_nobridge: the /32, the 169.254.1.1 route and neighbour, the node\'s /32 route, endpoint_add, attach_from_pod.',
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const bridges = (await links(c.a.netnsName)).filter((l) => l.linkinfo?.info_kind === 'bridge')
      if (bridges.length)
        fail(
          `node ${c.a.name} has a bridge (${bridges.map((b) => b.ifname).join(', ')}): with "noBridge": true the plugin must wire pods without one`,
        )
      const wrong = await talk(c.podA, c.podA2)
      if (wrong.length) fail(`between the two pods of node ${c.a.name}: ${wrong.join('; ')}`)
      return `no bridge on node ${c.a.name}; ${c.podA.ip} ⇄ ${c.podA2.ip}: ping and ${MIB} bytes each way`
    },
  },
  {
    id: 'nodes.redirect-peer',
    title: "with TC_ACT_SHOT on the destination veths' egress, the pods still talk: bpf_redirect_peer skipped it",
    hint: 'from_pod must end in return bpf_redirect_peer(ep->ifindex, 0) for a pod of the node; bpf_redirect (no _peer) sends the packet out of the host veth, through its egress.',
    run: async (ctx) => {
      const c = await ctx.sameNode()
      if ((await talk(c.podA, c.podA2)).length)
        throw new CheckSkip('needs the two pods to talk first (nodes.no-bridge)')
      const built = await buildBpf(
        join(packageRoot(), 'bpf', 'tool', 'drop_all.bpf.c'),
        join(ctx.pods.tmp, 'drop_all.o'),
      )
      if (!built.ok)
        throw new Error(
          `ebpfcni's own drop_all program did not build: ${built.problem ?? built.diagnostics[0]?.message}`,
        )
      const pins = join(c.cluster.spec.nodePinRoot, 'check-drop-all')
      const entry = ctx.pods.ledger.record('dir', pins, {lab: 5, owner: checkOwner(5), details: {scratch: true}})
      // Ctrl-C mid-check: the run's cleanup removes them too (before the nodes and their pin root).
      ctx.pods.onCleanup('before-pods', () => {
        rmSync(pins, {recursive: true, force: true})
        ctx.pods.ledger.forget([entry.id])
      })
      const veths = [await hostVeth(c.a, c.podA), await hostVeth(c.a, c.podA2)]
      try {
        mkdirSync(c.cluster.spec.nodePinRoot, {recursive: true})
        const load = await run('bpftool', [
          'prog',
          'loadall',
          built.object,
          pins,
          'type',
          'classifier',
          'pinmaps',
          pins,
        ])
        if (!ok(load)) throw new Error(`loading drop_all: ${describeRun(load)}`)
        for (const v of veths) {
          for (const cmd of [
            ['tc', 'qdisc', 'replace', 'dev', v, 'clsact'],
            ['tc', 'filter', 'add', 'dev', v, 'egress', 'bpf', 'da', 'pinned', join(pins, 'drop_all')],
          ]) {
            const r = await inNode(c.a, cmd)
            if (!ok(r)) throw new Error(`attaching drop_all to ${v}: ${describeRun(r)}`)
          }
        }
        const wrong = await talk(c.podA, c.podA2)
        const [droppedIpv4] = readCounterSlots(join(pins, 'drop_counts'), 2)
        if (wrong.length)
          fail(
            `with TC_ACT_SHOT on the egress of ${veths.join(' and ')}: ${wrong[0]}; drop_all dropped ${droppedIpv4} IPv4 packets there: they came out of the host veth (the node's stack, or bpf_redirect), not through bpf_redirect_peer to its peer`,
          )
        if (droppedIpv4 > 0n)
          fail(
            `drop_all on the egress of ${veths.join(' and ')} dropped ${droppedIpv4} IPv4 packets while the pods talked`,
          )
        return `drop_all on the egress of ${veths.join(' and ')} saw none of the pods' IPv4 packets, and they still talked`
      } finally {
        for (const v of veths) await inNode(c.a, ['tc', 'filter', 'del', 'dev', v, 'egress'])
        rmSync(pins, {recursive: true, force: true})
        ctx.pods.ledger.forget([entry.id])
      }
    },
  },
  {
    id: 'nodes.stack-skipped',
    title: "the node's IPv4 forwarding counter stays flat while 1 MiB crosses between its pods",
    hint: "A packet from_pod returns TC_ACT_OK for goes up the node's stack and is forwarded (ForwDatagrams grows): look the destination up in endpoints and redirect it.",
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const before = await forwarded(c.a)
      const wrong = await talk(c.podA, c.podA2)
      const n = (await forwarded(c.a)) - before
      if (wrong.length) throw new CheckSkip(`needs the two pods to talk (nodes.no-bridge: ${wrong[0]})`)
      if (n > FORWARDED_AT_MOST)
        fail(
          `node ${c.a.name} forwarded ${n} IPv4 datagrams (/proc/net/snmp ForwDatagrams) while ${MIB} bytes crossed each way between ${c.podA.ip} and ${c.podA2.ip}: they went through its IP stack, not bpf_redirect_peer`,
        )
      return `node ${c.a.name} forwarded ${n} IPv4 datagrams while ${MIB} bytes crossed each way between its pods`
    },
  },
]
