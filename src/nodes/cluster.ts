import {mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ledger, type LedgerEntry} from '../host/ledger.js'
import {runOrThrow, run, ok} from '../host/exec.js'
import {UserError} from '../host/errors.js'
import {stateDir} from '../host/paths.js'
import {link, linkDel, netnsAdd, netnsDel, netnsPath} from '../net/ip.js'
import {PodService} from '../pods/service.js'
import {UnderlayProgram} from './underlay-program.js'

// Lab 5's simulated cluster, on this one machine and with no daemon: each node is a network
// namespace with its own pod CIDR (10.244.N.0/24 of the cluster CIDR); the nodes are joined by an
// underlay, a bridge in the host's namespace with one veth per node (the node's eth0, address
// 10.99.0.N). ebpfcni's own TC program on each node's port of that bridge (underlay-program.ts)
// counts what the underlay carries and, when strict, drops pod addresses, as a cloud VPC would.
// Everything is in the ledger before it exists: reset and Ctrl-C remove all of it.

export interface ClusterSpec {
  /** Names this cluster's objects apart ("cluster" for the one `ebpfcni node` drives). */
  id: string
  /** The cluster CIDR, a /16: node N's pod CIDR is its Nth /24. */
  clusterCidr: string
  /** The underlay's /24 and the overlay's (VXLAN) /24, as their first three octets. */
  underlayNet: string
  tunnelNet: string
  netnsPrefix: string
  /** The host end of a node's underlay veth: this prefix and the node's name (at most 15 characters). */
  linkPrefix: string
  bridge: string
  /** Where the underlay program and its maps are pinned. */
  pinDir: string
  /** Each node's own pins (the plugin's forwarding program and maps) go in NODE_PIN_ROOT/<node>. */
  nodePinRoot: string
}

export const defaultCluster = (): ClusterSpec => ({
  id: 'cluster',
  clusterCidr: '10.244.0.0/16',
  underlayNet: '10.99.0',
  tunnelNet: '10.245.0',
  netnsPrefix: 'ebpfcni-node-',
  linkPrefix: 'ul-',
  bridge: 'ebpfcni-ul',
  pinDir: '/sys/fs/bpf/ebpfcni-underlay',
  nodePinRoot: '/sys/fs/bpf/ebpfcni',
})

export interface NodeRecord {
  name: string
  cluster: string
  /** N: the node's /24 of the cluster CIDR, its underlay and tunnel addresses end in N. */
  index: number
  netnsName: string
  netnsPath: string
  podCidr: string
  underlayIp: string
  tunnelIp: string
  /** The host end of its underlay veth (on the bridge). */
  underlayLink: string
}

/** What the node's plugin finds in its config about every node (the "node agent" part of lab 5). */
export interface NodeInfo {
  name: string
  podcidr: string
  underlayIP: string
  tunnelIP: string
}

export const NODE_NAME = /^[a-z][a-z0-9]{0,7}$/
const MAX_NODES = 250

const clusterOwner = (id: string): string => `cluster:${id}`
const nodeOwner = (id: string, node: string): string => `node:${id}/${node}`

export class Cluster {
  readonly dir: string
  readonly underlay: UnderlayProgram
  constructor(
    readonly spec: ClusterSpec = defaultCluster(),
    private readonly ledger = new Ledger(),
    private readonly lab?: number,
  ) {
    this.dir = join(stateDir(), 'nodes', spec.id)
    this.underlay = new UnderlayProgram(spec.pinDir, spec.clusterCidr)
  }

  private entries(): LedgerEntry[] {
    return this.ledger.find((e) => e.kind === 'node' && e.details.cluster === this.spec.id)
  }

  list(): NodeRecord[] {
    return this.entries()
      .map((e) => e.details as unknown as NodeRecord)
      .sort((a, b) => a.index - b.index)
  }

  get(name: string): NodeRecord {
    const n = this.list().find((x) => x.name === name)
    if (!n)
      throw new UserError(`no node named "${name}"`, {
        hint: `nodes: ${
          this.list()
            .map((x) => x.name)
            .join(', ') || 'none: ebpfcni node add a b'
        }`,
      })
    return n
  }

  /** Make a node: its netns, its underlay veth on the bridge (made with the first node), its address. */
  async add(name: string): Promise<NodeRecord> {
    if (!NODE_NAME.test(name))
      throw new UserError(`node name "${name}" must be 1-8 lowercase letters or digits, starting with a letter`)
    if (this.list().some((n) => n.name === name)) throw new UserError(`a node named "${name}" already exists`)
    const used = new Set(this.list().map((n) => n.index))
    const index = Array.from({length: MAX_NODES}, (_, i) => i + 1).find((i) => !used.has(i))
    if (!index) throw new UserError(`a cluster holds at most ${MAX_NODES} nodes`)
    const [a, b] = this.spec.clusterCidr.split('.')
    const netnsName = `${this.spec.netnsPrefix}${name}`
    const node: NodeRecord = {
      name,
      cluster: this.spec.id,
      index,
      netnsName,
      netnsPath: netnsPath(netnsName),
      podCidr: `${a}.${b}.${index}.0/24`,
      underlayIp: `${this.spec.underlayNet}.${index}`,
      tunnelIp: `${this.spec.tunnelNet}.${index}`,
      underlayLink: `${this.spec.linkPrefix}${name}`,
    }
    const owner = nodeOwner(this.spec.id, name)
    this.ledger.record('node', name, {lab: this.lab, owner, details: {...node}})
    // The plugin pins there (node ADD); all of it is the node's, so it all goes with the node.
    this.ledger.record('dir', this.nodePinDir(node), {lab: this.lab, owner, details: {scratch: true}})
    try {
      await this.ensureBridge()
      this.ledger.record('netns', netnsName, {lab: this.lab, owner})
      await netnsAdd(netnsName)
      this.ledger.record('link', node.underlayLink, {lab: this.lab, owner})
      await runOrThrow(`making node ${name}'s underlay veth`, 'ip', [
        'link',
        'add',
        node.underlayLink,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        netnsName,
      ])
      await runOrThrow(`putting ${node.underlayLink} on ${this.spec.bridge}`, 'ip', [
        'link',
        'set',
        node.underlayLink,
        'master',
        this.spec.bridge,
        'up',
      ])
      await runOrThrow(`addressing node ${name}'s eth0`, 'ip', [
        '-n',
        netnsName,
        'addr',
        'add',
        `${node.underlayIp}/24`,
        'dev',
        'eth0',
      ])
      await runOrThrow(`bringing node ${name}'s eth0 up`, 'ip', ['-n', netnsName, 'link', 'set', 'eth0', 'up'])
      // A fresh node forwards nothing until its agent says so. (A new netns copies this machine's
      // IPv4 settings, which differ from machine to machine: set it, do not inherit it.)
      await runOrThrow(`turning forwarding off on fresh node ${name}`, 'nsenter', [
        `--net=${node.netnsPath}`,
        'sysctl',
        '-qw',
        'net.ipv4.ip_forward=0',
      ])
      await this.attachUnderlay(node)
    } catch (err) {
      await this.remove(name).catch(() => undefined)
      throw err
    }
    return node
  }

  /** Remove a node: its pods first (CNI DEL runs in the node), then its netns; the bridge goes with the last node. */
  async remove(name: string): Promise<void> {
    const owner = nodeOwner(this.spec.id, name)
    const node = this.list().find((n) => n.name === name)
    if (node) {
      const pods = new PodService(this.ledger)
      for (const p of pods.list().filter((x) => x.nodeNetns === node.netnsPath))
        await pods.remove(p.name).catch(() => undefined)
      // Its eth0 goes with the netns, and the host end of the pair with it.
      await netnsDel(node.netnsName)
      rmSync(this.nodePinDir(node), {recursive: true, force: true})
    }
    this.ledger.forgetWhere((e) => e.owner === owner)
    if (this.list().length === 0) {
      await linkDel(this.spec.bridge).catch(() => undefined)
      this.underlay.remove()
      // The nodes' pin root goes once empty (the default, /sys/fs/bpf/ebpfcni, may hold labs 2-4's pins).
      try {
        rmdirSync(this.spec.nodePinRoot)
      } catch {
        // not empty, or never made
      }
      rmSync(this.dir, {recursive: true, force: true})
      this.ledger.forgetWhere((e) => e.owner === clusterOwner(this.spec.id))
    }
  }

  private async ensureBridge(): Promise<void> {
    const owner = clusterOwner(this.spec.id)
    if (!this.ledger.find((e) => e.owner === owner && e.kind === 'link').length)
      this.ledger.record('link', this.spec.bridge, {lab: this.lab, owner})
    if (!this.ledger.find((e) => e.owner === owner && e.kind === 'dir' && e.name === this.dir).length)
      this.ledger.record('dir', this.dir, {lab: this.lab, owner, details: {scratch: true}})
    // The nodes' pin root: reset removes it once empty (labs 2-4 may keep pins in the default one).
    if (!this.ledger.find((e) => e.owner === owner && e.name === this.spec.nodePinRoot).length)
      this.ledger.record('dir', this.spec.nodePinRoot, {lab: this.lab, owner})
    mkdirSync(this.dir, {recursive: true})
    if (await link(this.spec.bridge)) return
    await runOrThrow(`making the underlay bridge ${this.spec.bridge}`, 'ip', [
      'link',
      'add',
      this.spec.bridge,
      'type',
      'bridge',
    ])
    await runOrThrow(`bringing ${this.spec.bridge} up`, 'ip', ['link', 'set', this.spec.bridge, 'up'])
  }

  /** The underlay program on the node's port of the bridge, loaded with the first node. */
  private async attachUnderlay(node: NodeRecord): Promise<void> {
    if (!this.underlay.loaded()) {
      this.ledger.record('pin', this.spec.pinDir, {lab: this.lab, owner: clusterOwner(this.spec.id)})
      await this.underlay.load()
    }
    const dev = await link(node.underlayLink)
    if (!dev) throw new Error(`${node.underlayLink} vanished while node ${node.name} was being made`)
    this.underlay.attach(dev.ifindex)
  }

  /** Every node as its plugin sees it in the config. */
  nodeInfos(): NodeInfo[] {
    return this.list().map((n) => ({name: n.name, podcidr: n.podCidr, underlayIP: n.underlayIp, tunnelIP: n.tunnelIp}))
  }

  /** Where a node's own BPF objects are pinned (two nodes never share a map). */
  nodePinDir(node: NodeRecord): string {
    return join(this.spec.nodePinRoot, node.name)
  }

  /**
   * The network config for pods on `node`: the learner's (`base`), with this node's pod CIDR and
   * IPAM directory, its name, and every node of the cluster (what a node agent would learn from
   * the Kubernetes API). Written anew for each pod: nodes come and go.
   */
  nodeConfig(node: NodeRecord, base: string, extra: Record<string, unknown> = {}): string {
    let conf: Record<string, unknown>
    try {
      conf = JSON.parse(readFileSync(base, 'utf8')) as Record<string, unknown>
    } catch (err) {
      throw new UserError(`cannot read the network config ${base}: ${(err as Error).message}`, {
        hint: 'install your plugin and config first: ebpfcni check 5 (or ebpfcni check 1)',
      })
    }
    const path = join(this.dir, `${node.name}.conf`)
    mkdirSync(this.dir, {recursive: true})
    writeFileSync(
      path,
      JSON.stringify({
        ...conf,
        podcidr: node.podCidr,
        dataDir: join(this.dir, `${node.name}-ipam`),
        node: node.name,
        nodes: this.nodeInfos(),
        pinDir: this.nodePinDir(node),
        ...extra,
      }),
    )
    return path
  }

  /** A sysctl of a node's network namespace (read as the node's own processes see it). */
  async sysctl(node: NodeRecord, key: string): Promise<string | undefined> {
    const r = await run('nsenter', [`--net=${node.netnsPath}`, 'cat', `/proc/sys/${key.replace(/\./g, '/')}`], {
      timeoutMs: 5000,
    })
    return ok(r) ? r.stdout.trim() : undefined
  }
}
