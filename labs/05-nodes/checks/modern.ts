import {join} from 'node:path'
import {release} from 'node:os'
import {fail, CheckSkip, MachineLacks, type CheckDefinition} from '#checks/engine.js'
import {links} from '#net/ip.js'
import {pingCount, watchedProbe, type DropWitness} from '#net/probes.js'
import {objGet, progInfo, testRun} from '#bpf/object.js'
import {TC_ACT} from '#bpf/attach.js'
import {ipv4IcmpEcho} from '#bpf/frames.js'
import type {EventsSoFar} from '#observe/flow-feed.js'
import {closeFd} from '#bpf/ffi.js'
import {mapDelete, mapUpdate} from '#bpf/map-ops.js'
import {ipv4Key, readCounterSlots} from '#bpf/counters.js'
import {inNetns} from '#bpf/netns.js'
import {netkitSupport, type Support} from '#bpf/netkit.js'
import {
  LINK_TYPE,
  TCX_ATTACH,
  mprogLinks,
  netkitAttach,
  probeTcx,
  tcxAttach,
  tcxDetach,
  tcxPrograms,
  tcxReplaceProgram,
} from '#bpf/tcx.js'
import {run, ok, describeRun} from '#host/exec.js'
import {checkOwner} from '#host/owners.js'
import {u32} from '#policy/maps.js'
import {VERDICT} from '#policy/resolve.js'
import type {NodeRecord} from '#nodes/cluster.js'
import type {PodRecord} from '#pods/types.js'
import type {CheckCluster, Lab5Context} from '../context.js'
import {hostVeth, inNode, nodeFlowsDuring, withToolProgram} from './shared.js'

// Step 5 (stretch): modern attach. from_pod goes on its host veth through a tcx link (kernel 6.6,
// commit e420bed02507) instead of a clsact filter. Each check proves its own pings' fate: with a
// lab 4 deny rule isolating pod 2 from pod 1, a foreign agent's `tc qdisc del … clsact` lets none
// of 50 through and the link is still in the kernel's list; ebpfcni's counter put first on the
// same hook (mprog order) sees the 50 echo requests and from_pod after it still drops them all.
// A denied ping is not waited out when from_pod's own reports prove every request dropped
// (deniedPings); without them, ping's wait for replies decides.
// netkit (6.7, commit 35dfaad7188c) is checked when the kernel and iproute2 make netkit pairs;
// otherwise skipped with what is missing. Below 6.6 the whole step is skipped.

type Pod = PodRecord & {ip: string}
const PINGS = 50

/** What the step asks of the kernel; tests put other answers here to see the skips. */
export const modernProbes: {tcx: () => {ok: boolean; detail: string}; netkit: () => Promise<Support>} = {
  tcx: probeTcx,
  netkit: netkitSupport,
}

/**
 * Where nodes.tcx-coexist puts ebpfcni's counter: first (what the step proves). Tests put "last"
 * (after from_pod, which ends the chain) or "replace" (swapped into from_pod's own link) here to
 * show the check fails when the two do not both run.
 */
export const counterPlacement: {at: 'first' | 'last' | 'replace'} = {at: 'first'}

/** Step 5 needs tcx: below kernel 6.6 every check of the step is skipped, naming the kernels it needs. */
function needTcx(): void {
  const p = modernProbes.tcx()
  if (!p.ok)
    throw new MachineLacks(
      `lab 5 step 5 needs kernel 6.6 (tcx links) and 6.7 (netkit); this is ${release()} (${p.detail}). Debian 13's 6.12 has both`,
    )
}

/** Pod 1 and pod 2 of node a, pod 1's host veth and its ifindex in node a; pings must cross first. */
async function pair(ctx: Lab5Context) {
  const c = await ctx.sameNode()
  const [from, to] = [c.podA, c.podA2]
  const first = await pingCount(from.netnsPath, to.ip, 3)
  if (first.received === undefined) throw new Error(`ping from ${from.ip} did not run: ${first.detail}`)
  if (first.received === 0) throw new CheckSkip(`needs ${from.ip} to ping ${to.ip} first (nodes.no-bridge)`)
  const veth = await hostVeth(c.a, from)
  const ifindex = (await links(c.a.netnsName)).find((l) => l.ifname === veth)?.ifindex
  if (!ifindex) throw new CheckSkip(`cannot find ${veth} on node ${c.a.name}`)
  return {c, from, to, veth, ifindex}
}

/** What became of 50 pings of our own: the replies that came back, and how a drop of all was proven early. */
interface PingFate {
  received: number
  /** Set when every request was proven dropped before ping's wait ran out (deniedPings). */
  proof?: string
}

/**
 * 50 pings of our own from pod 1 to pod 2, which a deny rule isolates from it, all sent at once
 * (unanswered, ping would pace them 10 ms apart: half a second a batch): how many replies came
 * back. ping waits a second after its last request for replies that do not come; it is not
 * waited out once node a's from_pod has proven every request's fate itself: it reported DROPPED
 * for 50 ICMP packets from pod 1 to pod 2 on pod 1's host veth (in a check's own pod only this
 * ping sends ICMP there: they are its 50 echo requests, and none can be answered), and it returns
 * TC_ACT_SHOT for such a request in a test run over the node's maps (a report alone proves
 * nothing: a program can report a drop and return something else). Otherwise ping's own count
 * decides, as does a ping that ended first.
 */
async function deniedPings(c: CheckCluster, from: Pod, to: Pod, ifindex: number): Promise<PingFate> {
  const {result} = await nodeFlowsDuring(c, c.a, (soFar) =>
    watchedProbe(
      (signal) =>
        pingCount(from.netnsPath, to.ip, PINGS, {preload: true, signal}).then((r) => ({
          ...r,
          ok: (r.received ?? 0) > 0,
        })),
      dropWitness(c, soFar, from, to, ifindex),
    ),
  )
  if (result.received === undefined && !result.proven)
    throw new Error(`ping from ${from.ip} to ${to.ip} did not run: ${result.detail}`)
  return {received: result.received ?? 0, proof: result.proven?.detail}
}

/**
 * deniedPings' proof, asked on each poll: undefined until from_pod has reported dropping all
 * PINGS requests and a test run of the pinned from_pod drops one too (run once; a program that
 * does not is never taken at its word, and ping decides).
 */
function dropWitness(c: CheckCluster, soFar: EventsSoFar, from: Pod, to: Pod, ifindex: number): DropWitness {
  let shot: boolean | undefined
  return async () => {
    if (shot === false) return undefined
    const drops = ((await soFar()) ?? []).filter(
      (e) =>
        e.verdict === 'DROPPED' &&
        e.direction === 'from-pod' &&
        e.proto === 'ICMP' &&
        e.src === from.ip &&
        e.dst === to.ip &&
        e.ifindex === ifindex,
    )
    if (drops.length < PINGS) return undefined
    shot ??= testRunShoots(c, from, to)
    if (!shot) return undefined
    return {
      fate: 'dropped',
      detail: `from_pod reported DROPPED (${drops[0].reason.text}) for all ${PINGS} echo requests, and returns TC_ACT_SHOT for one in a test run`,
    }
  }
}

/** Whether node a's pinned from_pod returns TC_ACT_SHOT for an echo request from `from` to `to`. */
function testRunShoots(c: CheckCluster, from: Pod, to: Pod): boolean {
  let fd: number
  try {
    fd = objGet(join(c.cluster.nodePinDir(c.a), 'from_pod'))
  } catch {
    return false
  }
  try {
    return testRun(fd, ipv4IcmpEcho(from.ip, to.ip)).retval === TC_ACT.SHOT
  } catch {
    return false
  } finally {
    closeFd(fd)
  }
}

/** With lab 4's deny rule for from → to in node a's policy map around `body`; skipped unless it holds. */
async function isolated<T>(c: CheckCluster, from: Pod, to: Pod, ifindex: number, body: () => Promise<T>): Promise<T> {
  const pin = join(c.cluster.nodePinDir(c.a), 'policy')
  let fd: number
  try {
    fd = objGet(pin)
  } catch {
    throw new CheckSkip(`needs node ${c.a.name}'s pinned policy map (${pin}; nodes.deny-at-source)`)
  }
  const key = Buffer.concat([ipv4Key(from.ip), ipv4Key(to.ip)])
  try {
    mapUpdate(fd, key, u32(VERDICT.deny))
    const {received: through} = await deniedPings(c, from, to, ifindex)
    if (through > 0)
      throw new CheckSkip(
        `needs lab 4's deny rule to hold first (nodes.deny-at-source): ${through} of ${PINGS} pings from ${from.ip} to ${to.ip} got through it`,
      )
    return await body()
  } finally {
    mapDelete(fd, key)
    closeFd(fd)
  }
}

/** The program pinned at node a's from_pod: its id. */
function fromPodId(c: CheckCluster): number {
  const pin = join(c.cluster.nodePinDir(c.a), 'from_pod')
  let fd: number
  try {
    fd = objGet(pin)
  } catch {
    // The plugin loads and pins forward.bpf.c when it adds a pod (step 3): without the pin there is nothing to own.
    fail(
      `nothing is pinned at ${pin}: node ${c.a.name}'s plugin did not load forward.bpf.c's from_pod when it added the pod`,
      "step 3 (nobridge) pins from_pod in the node's pin dir when ADD loads forward.bpf.c: run ebpfcni check 5 --step nobridge to see why it did not",
    )
  }
  try {
    return progInfo(fd).id
  } finally {
    closeFd(fd)
  }
}

/** The tcx link (in the kernel's list of links, as `bpftool link` shows it) running from_pod on the veth's ingress. */
function fromPodLink(c: CheckCluster, ifindex: number) {
  const prog = fromPodId(c)
  return mprogLinks().find(
    (l) =>
      l.type === LINK_TYPE.tcx && l.ifindex === ifindex && l.attachType === TCX_ATTACH.ingress && l.progId === prog,
  )
}

/** The names of the programs on the veth's tcx ingress, in the order they run. */
const tcxOrder = (node: NodeRecord, ifindex: number): string[] =>
  inNetns(node.netnsPath, () => tcxPrograms(ifindex, 'ingress')).map((p) => p.name)

const TCX_LINE = 'ebpfcni bpf attach "$pin_dir/from_pod" --dev "$hostveth" --hook tc-ingress --tcx'

export const MODERN_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.tcx-owned',
    title: `with a rule isolating pod 2 from pod 1, a foreign "tc qdisc del … clsact" on pod 1's host veth lets none of ${PINGS} pings through: from_pod is on a tcx link`,
    hint: `attach_from_pod through a tcx link, not a clsact filter: ${TCX_LINE}. A clsact filter belongs to the qdisc, and any agent that deletes the qdisc takes it along; the link is pinned, and only whoever holds the pin removes it.`,
    run: async (ctx) => {
      needTcx()
      const {c, from, to, veth, ifindex} = await pair(ctx)
      return isolated(c, from, to, ifindex, async () => {
        // Another agent on the node that manages clsact for itself: it makes one if there is none, then deletes it.
        await inNode(c.a, ['tc', 'qdisc', 'add', 'dev', veth, 'clsact'])
        const del = await inNode(c.a, ['tc', 'qdisc', 'del', 'dev', veth, 'clsact'])
        if (!ok(del)) throw new Error(`tc qdisc del dev ${veth} clsact on node ${c.a.name}: ${describeRun(del)}`)
        const {received: through, proof} = await deniedPings(c, from, to, ifindex)
        const link = fromPodLink(c, ifindex)
        if (through > 0)
          fail(
            `${through} of ${PINGS} pings from ${from.ip} reached ${to.ip}, which a deny rule isolates from it, after a foreign "tc qdisc del dev ${veth} clsact" on node ${c.a.name}: ${link ? 'from_pod is on a tcx link there, yet something let them through' : 'from_pod was a clsact filter and went with the qdisc'}`,
          )
        if (!link)
          fail(
            `the pings stayed dropped, but no tcx link in the kernel's list (bpftool link) runs node ${c.a.name}'s from_pod on ${veth}'s ingress: what drops them is not the tcx attachment this step asks for`,
          )
        const how = proof ? ` (${proof})` : ''
        return `after a foreign "tc qdisc del dev ${veth} clsact", 0 of ${PINGS} pings from ${from.ip} reached the isolated ${to.ip}${how}; tcx link ${link.id} still runs from_pod (program ${link.progId}) there`
      })
    },
  },
  {
    id: 'nodes.tcx-coexist',
    title: `ebpfcni's counter put first on from_pod's tcx hook sees all ${PINGS} pings, and from_pod after it still drops them: both run (mprog order)`,
    hint: `Attach from_pod with a tcx link (${TCX_LINE}), and end every path of from_pod with a verdict: on a tcx hook a program that returns TC_ACT_UNSPEC hands the packet to the next one, TC_ACT_OK ends the chain.`,
    run: async (ctx) => {
      needTcx()
      const {c, from, to, veth, ifindex} = await pair(ctx)
      const link = fromPodLink(c, ifindex)
      if (!link) throw new CheckSkip(`needs from_pod on a tcx link on ${veth} (nodes.tcx-owned)`)
      return isolated(c, from, to, ifindex, () =>
        withToolProgram(ctx, c, 'count_first', async (pins) => {
          const prog = join(pins, 'count_first')
          const linkPin = join(pins, `link_tcx_ingress_${veth}`)
          inNetns(c.a.netnsPath, () => {
            if (counterPlacement.at === 'replace') tcxReplaceProgram(link.id, prog)
            else tcxAttach(prog, ifindex, 'ingress', linkPin, {first: counterPlacement.at === 'first'})
          })
          try {
            const order = tcxOrder(c.a, ifindex)
            const [before] = readCounterSlots(join(pins, 'first_seen'), 1)
            const {received: through} = await deniedPings(c, from, to, ifindex)
            const [after] = readCounterSlots(join(pins, 'first_seen'), 1)
            const seen = after - before
            const chain = `${veth}'s tcx ingress runs ${order.join(' → ') || 'nothing'}`
            if (through > 0)
              fail(
                `${through} of ${PINGS} pings from ${from.ip} reached the isolated ${to.ip} with ebpfcni's counter on the hook (${chain}): from_pod no longer ran after it`,
              )
            if (seen < BigInt(PINGS))
              fail(
                `ebpfcni's counter saw ${seen} of the ${PINGS} echo requests (${chain}): a program before it ended the chain, so the two did not both run`,
              )
            return `${chain}; the counter saw ${seen} echo requests and from_pod still dropped all ${PINGS}`
          } finally {
            tcxDetach(linkPin)
          }
        }),
      )
    },
  },
  {
    id: 'nodes.netkit',
    title:
      "a pod on a netkit pair (peer blackhole by default) talks only while from_pod runs as the peer's program; with it removed, nothing flows",
    hint: 'netkit needs kernel 6.7+ built with CONFIG_NETKIT and iproute2 6.7+; from_pod returns TC_ACT_OK (NETKIT_PASS) for the node itself and TC_ACT_SHOT (NETKIT_DROP) for what a rule denies.',
    run: async (ctx) => {
      needTcx()
      const support = await modernProbes.netkit()
      if (!support.ok) throw new MachineLacks(`netkit cannot run on this machine: ${support.reason}`)
      const c = await ctx.ready()
      return netkitPod(ctx, c)
    },
  },
]

/**
 * Not run on the development VM (its kernel has no CONFIG_NETKIT): a netkit pair made by the check
 * in node a, primary on the node (forward), peer in a namespace of the check's own (blackhole),
 * node a's from_pod attached through the primary as the peer's program (BPF_NETKIT_PEER: it runs
 * where the pod's end transmits). The pod pings the node's gateway address: none without the
 * program, all with it, none once its link is detached.
 */
async function netkitPod(ctx: Lab5Context, c: CheckCluster): Promise<string> {
  const ns = `${c.cluster.spec.netnsPrefix}nk`
  const nsPath = `/run/netns/${ns}`
  const [primary, peer] = [`${c.cluster.spec.linkPrefix}nk`, `${c.cluster.spec.linkPrefix}np`]
  const podIp = c.a.podCidr.replace(/\.0\/24$/, '.250')
  const entry = ctx.pods.ledger.record('netns', ns, {lab: 5, owner: checkOwner(5)})
  const remove = async () => {
    await run('ip', ['netns', 'del', ns], {timeoutMs: 10_000})
    await inNode(c.a, ['ip', 'link', 'del', primary])
    ctx.pods.ledger.forget([entry.id])
  }
  ctx.pods.onCleanup('before-pods', remove)
  const step = async (cmd: string, args: string[]) => {
    const r = cmd === 'node' ? await inNode(c.a, args) : await run('ip', ['-n', ns, ...args], {timeoutMs: 10_000})
    if (!ok(r)) throw new Error(`netkit pod: ${args.join(' ')}: ${describeRun(r)}`)
  }
  const count = async () => (await pingCount(nsPath, '169.254.1.1', 20)).received ?? 0
  try {
    const add = await run('ip', ['netns', 'add', ns], {timeoutMs: 10_000})
    if (!ok(add)) throw new Error(`ip netns add ${ns}: ${describeRun(add)}`)
    await step('node', [
      'ip',
      'link',
      'add',
      primary,
      'type',
      'netkit',
      'mode',
      'l2',
      'forward',
      'peer',
      'blackhole',
      'name',
      peer,
    ])
    await step('node', ['ip', 'link', 'set', peer, 'netns', nsPath])
    await step('node', ['ip', 'addr', 'add', '169.254.1.1/32', 'dev', primary])
    await step('node', ['ip', 'link', 'set', primary, 'up'])
    await step('node', ['ip', 'route', 'replace', `${podIp}/32`, 'dev', primary])
    for (const args of [
      ['link', 'set', 'lo', 'up'],
      ['link', 'set', peer, 'up'],
      ['addr', 'add', `${podIp}/32`, 'dev', peer],
      ['route', 'add', '169.254.1.1', 'dev', peer, 'scope', 'link'],
      ['route', 'add', 'default', 'via', '169.254.1.1', 'dev', peer],
    ])
      await step('pod', args)
    const ifindex = (await links(c.a.netnsName)).find((l) => l.ifname === primary)?.ifindex
    if (!ifindex) throw new Error(`netkit pod: no ${primary} on node ${c.a.name}`)
    const none = await count()
    if (none > 0)
      fail(
        `with no program, ${none} of 20 pings left a netkit peer made with "blackhole": the default policy did not hold`,
      )
    const linkPin = join(c.cluster.nodePinDir(c.a), `link_netkit_peer_${primary}`)
    inNetns(c.a.netnsPath, () => netkitAttach(join(c.cluster.nodePinDir(c.a), 'from_pod'), ifindex, 'peer', linkPin))
    let passed: number
    try {
      passed = await count()
    } finally {
      tcxDetach(linkPin)
    }
    const after = await count()
    if (passed < 20)
      fail(
        `with from_pod as the netkit peer's program, ${passed} of 20 pings from ${podIp} to the node's 169.254.1.1 were answered`,
      )
    if (after > 0) fail(`with from_pod's netkit link detached, ${after} of 20 pings still left the blackhole peer`)
    return `netkit peer (blackhole): 0 of 20 pings without a program, 20 of 20 with from_pod, 0 once its link was detached`
  } finally {
    await remove()
  }
}
