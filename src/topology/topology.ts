import {existsSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {hostname} from 'node:os'
import {PodService} from '../pods/service.js'
import type {PodRecord} from '../pods/types.js'
import {addrs, links, podMac, type IpLink} from '../net/ip.js'
import {type Attachment} from '../net/attachments.js'
import {allAttachments} from '../bpf/tcx.js'
import {objGet} from '../bpf/object.js'
import {mapDump, mapInfo, mapTypeName} from '../bpf/map-ops.js'
import {closeFd} from '../bpf/ffi.js'
import {BPF_PIN_ROOT} from '../host/paths.js'
import {Cluster} from '../nodes/cluster.js'

// The node in one model, as an attendee would assemble it from `ip`, `bpftool net` and
// `bpftool map`: every bridge and its addresses, every pod on them (name, IP, MAC, labels,
// runtime) with its host veth and the programs attached there, the ports no pod owns, and the
// pinned maps with their entry counts. Every device drawn carries its XDP and TC attachments: a
// program left on the bridge (lab 2's walk) is on the picture, not only the pods' veths'. `ebpfcni topology` draws it; --json prints it.

export interface TopologyProgram {
  hook: Attachment['hook']
  id: number
  name: string | null
  mode: string
}

export interface TopologyPod {
  name: string
  runtime: PodRecord['runtime']
  ip: string | null
  mac: string | null
  labels: Record<string, string>
  netns: string
  hostVeth: string | null
  programs: TopologyProgram[]
  workload: PodRecord['workload']
}

/** A port of a bridge that is no pod's host veth: left by a failed ADD or a DEL that did not run? */
export interface TopologyPort {
  name: string
  /** veth, vxlan, … (what `ip -d link` says). */
  kind: string | null
  /** A veth whose other end is on the host too (an ADD that failed before moving it into the pod). */
  peerOnHost: string | null
  up: boolean
  /** The XDP and TC programs attached to this port. */
  programs: TopologyProgram[]
}

export interface TopologyBridge {
  name: string
  addresses: string[]
  up: boolean
  /** The XDP and TC programs attached to the bridge device itself. */
  programs: TopologyProgram[]
  pods: TopologyPod[]
  /** Ports that belong to no pod the tool knows. */
  podless: TopologyPort[]
}

export interface TopologyMap {
  name: string
  pin: string
  type: string
  entries: number
  maxEntries: number
}

/** A simulated node (lab 5) and the pods on it. */
export interface TopologyNode {
  name: string
  podCidr: string
  underlayIp: string
  tunnelIp: string
  netns: string
  pods: Array<{name: string; ip: string | null; labels: Record<string, string>}>
}

export interface Topology {
  node: string
  bridges: TopologyBridge[]
  /** Pods whose host veth is on no bridge (or is gone), pods on simulated nodes excepted. */
  unbridged: TopologyPod[]
  maps: TopologyMap[]
  /** Lab 5's simulated nodes, when there are any. */
  nodes: TopologyNode[]
}

/** The pinned maps under the labs' pin root, with how many entries each holds now. */
export function pinnedMaps(root = BPF_PIN_ROOT): TopologyMap[] {
  if (!existsSync(root)) return []
  const out: TopologyMap[] = []
  for (const f of readdirSync(root).sort()) {
    const pin = join(root, f)
    if (!statSync(pin).isFile()) continue
    let fd: number | undefined
    try {
      fd = objGet(pin)
      const info = mapInfo(fd)
      out.push({
        name: f,
        pin,
        type: mapTypeName(info.type),
        entries: mapDump(fd, info).length,
        maxEntries: info.maxEntries,
      })
    } catch {
      /* a pinned program, or a pin gone meanwhile: not a map */
    } finally {
      if (fd !== undefined) closeFd(fd)
    }
  }
  return out
}

/**
 * Every pod as the host sees it: its host veth, the programs attached there, and its MAC (read
 * from its own netns when the runtime's record has none, as a CRI result does not). `pod list`
 * prints these; the topology groups them by bridge.
 */
export async function podViews(pods = new PodService(), onHost?: Attachment[]): Promise<TopologyPod[]> {
  const attached = onHost ?? (await allAttachments())
  return Promise.all(
    pods.list().map(async (p): Promise<TopologyPod> => {
      const hostVeth = (await pods.hostVeth(p)) ?? null
      return {
        name: p.name,
        runtime: p.runtime,
        ip: p.ip ?? null,
        mac: p.mac ?? (p.netnsPath ? ((await podMac(p.netnsPath, p.ifname)) ?? null) : null),
        labels: p.labels,
        netns: p.netnsPath,
        hostVeth,
        programs: programsOn(attached, hostVeth),
        workload: p.workload,
      }
    }),
  )
}

/** The programs attached to one device, as `bpftool net` lists them. */
const programsOn = (attached: Attachment[], dev: string | null): TopologyProgram[] =>
  attached.filter((a) => a.dev === dev).map((a) => ({hook: a.hook, id: a.id, name: a.name ?? null, mode: a.mode}))

const isUp = (l: IpLink): boolean => l.operstate === 'UP' || l.flags.includes('UP')

export async function readTopology(pods = new PodService()): Promise<Topology> {
  // Every bridge on the host, as `ip -br link show type bridge` lists them: with pods or without.
  const host = await links()
  // Every attachment on the host, read once: each device drawn shows its own (the bridge too).
  const attached = await allAttachments()
  const byName = new Map(host.map((l) => [l.ifname, l]))
  const bridges = new Map<string, TopologyBridge>()
  for (const l of host.filter((x) => x.linkinfo?.info_kind === 'bridge'))
    bridges.set(l.ifname, {
      name: l.ifname,
      addresses: (await addrs(undefined, l.ifname)).flatMap((a) =>
        (a.addr_info ?? []).map((x) => `${x.local}/${x.prefixlen}`),
      ),
      up: isUp(l),
      programs: programsOn(attached, l.ifname),
      pods: [],
      podless: [],
    })
  const unbridged: TopologyPod[] = []
  const records = pods.list()
  const onNodes = new Set(records.flatMap((p) => (p.nodeNetns ? [p.name] : [])))
  const podVeths = new Set<string>()
  for (const pod of await podViews(pods, attached)) {
    if (onNodes.has(pod.name)) continue
    if (pod.hostVeth) podVeths.add(pod.hostVeth)
    const br = bridges.get((pod.hostVeth && byName.get(pod.hostVeth)?.master) || '')
    if (br) br.pods.push(pod)
    else unbridged.push(pod)
  }
  // What else is on a bridge: a veth no pod owns (a failed ADD's, a pod deleted without DEL).
  for (const l of host) {
    const br = l.master ? bridges.get(l.master) : undefined
    if (!br || podVeths.has(l.ifname)) continue
    const peer = l.linkinfo?.info_kind === 'veth' && l.link_netnsid === undefined && l.link ? l.link : null
    br.podless.push({
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? null,
      peerOnHost: peer,
      up: isUp(l),
      programs: programsOn(attached, l.ifname),
    })
  }
  const nodes = new Cluster().list().map((n) => ({
    name: n.name,
    podCidr: n.podCidr,
    underlayIp: n.underlayIp,
    tunnelIp: n.tunnelIp,
    netns: n.netnsName,
    pods: records
      .filter((p) => p.nodeNetns === n.netnsPath)
      .map((p) => ({name: p.name, ip: p.ip ?? null, labels: p.labels})),
  }))
  return {node: hostname(), bridges: [...bridges.values()], unbridged, maps: pinnedMaps(), nodes}
}
