import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {release} from 'node:os'
import {buildBpf, type BuildResult} from '#bpf/build.js'
import {lab1Context, type Lab1Context, type PluginOptions} from '../01-bridge-cni/context.js'
import {Cluster, type ClusterSpec, type NodeRecord} from '#nodes/cluster.js'
import {PodService} from '#pods/service.js'
import type {PodRecord, WorkloadName} from '#pods/types.js'
import {CheckFailure, CheckSkip} from '#checks/engine.js'
import {errorMessage} from '#host/errors.js'
import {describeMissing, probeForwardingHelpers} from '#bpf/helper-probe.js'

// Lab 5's checks run on a cluster of their own: two nodes with names, subnets and an underlay
// apart from the learner's (`ebpfcni node add`), a pod running httpbin on each, made through the
// installed plugin and config. Everything is in the run's ledger under lab 5; cleanup removes the
// pods (CNI DEL runs in their node), the nodes and the underlay.

export interface CheckCluster {
  cluster: Cluster
  a: NodeRecord
  b: NodeRecord
  /** A pod on node a and one on node b, both serving HTTP. */
  podA: PodRecord & {ip: string}
  podB: PodRecord & {ip: string}
}

/** Lab 1's fixture (the installed plugin and config, the run's ledger and cleanup), and the cluster. */
export interface Lab5Context extends Lab1Context {
  /** The run's cluster, made on first use; a failed ADD fails the asking check with the plugin's error. */
  cluster(): Promise<CheckCluster>
  /** The same, for checks that need it working: a failure to make it is a skip naming why. */
  ready(): Promise<CheckCluster>
  /** A second pod on node a, beside podA (step 3: pods of one node without a bridge). */
  sameNode(): Promise<CheckCluster & {podA2: PodRecord & {ip: string}}>
  /**
   * Node c joins (nothing runs on it), then a pod is added on node a: the first ADD whose node
   * agent sees node c. `body` looks at what that ADD left; the pod and node c go after it. A failed
   * ADD rejects with the plugin's error, once they are gone.
   */
  withJoinedNode<T>(body: (c: CheckCluster & {joined: NodeRecord}) => Promise<T>): Promise<T>
}

/** The workspace's forward.bpf.c (step 3), built for the plugin to load on each node. */
export const FORWARD_PROGRAM = 'forward.bpf.c'

/** Names and ranges no learner's cluster uses: a run's own. */
export function checkClusterSpec(): ClusterSpec {
  const id = randomBytes(3).toString('hex').slice(0, 5)
  return {
    id: `c5${id}`,
    clusterCidr: '10.243.0.0/16',
    underlayNet: '10.98.0',
    tunnelNet: '10.246.0',
    netnsPrefix: `e5${id}-`,
    linkPrefix: `u5${id}`,
    bridge: `ul5${id}`,
    pinDir: `/sys/fs/bpf/ebpfcni-ul5${id}`,
    nodePinRoot: `/sys/fs/bpf/ebpfcni-n5${id}`,
  }
}

export function lab5Context(opts: PluginOptions & {workspace: string}): Lab5Context {
  const base = lab1Context(opts)
  const cluster = new Cluster(checkClusterSpec(), base.pods.ledger, opts.lab)
  const pods = new PodService(base.pods.ledger)
  let made: Promise<CheckCluster> | undefined
  let second: Promise<CheckCluster & {podA2: PodRecord & {ip: string}}> | undefined
  // The nodes go before the run's own pods and scratch dir: their pods' DEL runs in the nodes.
  // After Ctrl-C, a node or pod still being made (its children killed) settles first: removing
  // before it does would miss what it records last.
  base.pods.onCleanup('before-pods', async () => {
    await Promise.allSettled([made, second])
    // The nodes at once (each its own netns, pods and pins; a node's pods still go one by one):
    // the last to finish removes the underlay.
    await Promise.all(cluster.list().map((n) => cluster.remove(n.name).catch(() => undefined)))
    // Step 5: tcx links the plugin made through ebpfcni were pinned in the nodes' folders, which
    // went with the nodes (an unpinned link is released): only their ledger entries are left.
    const root = `${cluster.spec.nodePinRoot}/`
    base.pods.ledger.forget(
      base.pods.ledger.find((e) => e.kind === 'tcx' && String(e.details.pin).startsWith(root)).map((e) => e.id),
    )
  })
  // Step 3's program, when the workspace has one: the plugin loads it once per node ("forwardObject").
  const forward = (): Promise<BuildResult | undefined> =>
    base.pods.once('forward-built', async () => {
      const source = join(opts.workspace, FORWARD_PROGRAM)
      return existsSync(source) ? buildBpf(source, join(base.pods.tmp, 'forward.o')) : undefined
    })
  const noBridge = (): boolean => base.plugin.rawConfig().noBridge === true
  const extra = async (): Promise<Record<string, unknown>> => {
    const built = await forward()
    if (built?.ok) return {forwardObject: built.object}
    if (noBridge()) {
      const first = built?.diagnostics.find((d) => d.severity === 'error')
      throw new CheckFailure(
        built
          ? `${FORWARD_PROGRAM} does not compile: ${first ? `line ${first.line}: ${first.message}` : (built.problem ?? 'clang failed')}`
          : `"noBridge": true, but there is no ${FORWARD_PROGRAM} in ${opts.workspace}`,
      )
    }
    return {}
  }
  const pod = async (
    node: NodeRecord,
    suffix = '',
    workload: WorkloadName = 'httpbin',
  ): Promise<PodRecord & {ip: string}> => {
    const name = `${cluster.spec.id}${node.name}${suffix}`
    const more = await extra()
    try {
      const p = await pods.add({
        name,
        configFile: cluster.nodeConfig(node, opts.configFile, more),
        cniPath: [opts.cniBinDir],
        // At least 10 s: step 5's plugin starts ebpfcni itself for the tcx link (about a second).
        timeoutMs: Math.max(opts.timeoutMs ?? 10_000, 10_000),
        workload,
        lab: opts.lab,
        node: {name: node.name, netnsPath: node.netnsPath},
      })
      if (!p.ip) throw new Error(`ADD gave pod ${name} no address`)
      return p as PodRecord & {ip: string}
    } catch (err) {
      // Steps 3-4 need helpers old kernels lack: when an ADD fails, say so if that is why (probed
      // only then: the probe takes a second, and never a silent fallback to the bridge).
      const probe = noBridge() ? await base.pods.once('helpers', probeForwardingHelpers) : undefined
      if (probe && 'missing' in probe && probe.missing.length)
        throw new CheckFailure(
          `a pod on node ${node.name}: ${errorMessage(err)}. This kernel (${release()}) lacks ${probe.missing.map(describeMissing).join('; ')}`,
        )
      throw new CheckFailure(`a pod on node ${node.name}: ${errorMessage(err)}`)
    }
  }
  const make = async (): Promise<CheckCluster> => {
    // clang on forward.bpf.c (one core) while the nodes are made (`ip` calls, mostly waiting on the
    // kernel): the first pod's ADD needs the object, not the nodes' making. Its failure is the ADD's to say.
    forward().catch(() => undefined)
    const a = await cluster.add('a')
    const b = await cluster.add('b')
    // Both nodes exist before the first pod: each ADD's node agent learns of the other. The two
    // pods are made at once (different nodes: their own namespaces, IPAM and pins); pods of one
    // node are made one after the other, so a plugin is never asked to be safe for that.
    const [podA, podB] = await Promise.all([pod(a), pod(b)])
    return {cluster, a, b, podA, podB}
  }
  return {
    ...base,
    sameNode: () =>
      (second ??= (async () => {
        const c = await (made ??= make())
        return {...c, podA2: await pod(c.a, '2')}
      })()),
    withJoinedNode: async (body) => {
      const c = await (made ??= make())
      const joined = await cluster.add('c')
      let added: (PodRecord & {ip: string}) | undefined
      try {
        added = await pod(c.a, '3', 'sleep')
        return await body({...c, joined})
      } finally {
        if (added) await pods.remove(added.name).catch(() => undefined)
        await cluster.remove(joined.name).catch(() => undefined)
      }
    },
    cluster: () => (made ??= make()),
    ready: async () => {
      try {
        return await (made ??= make())
      } catch (err) {
        throw new CheckSkip(`needs a pod on each node (${errorMessage(err)})`)
      }
    },
  }
}
