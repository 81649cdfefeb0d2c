import {existsSync, readdirSync, readFileSync, readlinkSync, statSync} from 'node:fs'
import {run, runOrThrow, ok, describeRun} from '../host/exec.js'

// Host and netns state through iproute2's JSON output (`ip -j`), never ad-hoc text parsing.

export interface IpLink {
  ifindex: number
  ifname: string
  flags: string[]
  mtu: number
  operstate: string
  address?: string
  link_index?: number
  link_netnsid?: number
  master?: string
  link?: string
  linkinfo?: {info_kind?: string}
  xdp?: {mode?: number; prog?: {id: number}; attached?: Array<{mode: number; prog: {id: number}}>}
}

export interface IpAddrInfo {
  family: 'inet' | 'inet6'
  local: string
  prefixlen: number
  broadcast?: string
  /** IPv6: duplicate address detection is not done yet; the address cannot be used. */
  tentative?: boolean
}

export interface IpAddr extends IpLink {
  addr_info: IpAddrInfo[]
}

export interface IpRoute {
  dst: string
  gateway?: string
  dev?: string
  protocol?: string
  scope?: string
  prefsrc?: string
}

const NETNS_DIR = '/run/netns'

const nsArgs = (netns?: string): string[] => (netns ? ['-n', netns] : [])

async function ipJson<T>(args: string[], netns?: string): Promise<T> {
  const r = await run('ip', [...nsArgs(netns), '-j', ...args], {timeoutMs: 5000})
  if (!ok(r))
    throw new Error(`reading ${netns ? `netns ${netns}` : 'host'} state with ip ${args.join(' ')}: ${describeRun(r)}`)
  const text = r.stdout.trim()
  return (text ? JSON.parse(text) : []) as T
}

export const netnsPath = (name: string): string => `${NETNS_DIR}/${name}`
export const netnsExists = (name: string): boolean => existsSync(netnsPath(name))

/** Named network namespaces under /run/netns (podman's are `netns-<uuid>`). */
export function netnsNames(): string[] {
  try {
    return readdirSync(NETNS_DIR)
  } catch {
    return []
  }
}

/** Whether any process lives in a named netns (a podman netns no process uses is garbage). */
export function netnsInUse(name: string): boolean {
  let ino: number
  try {
    ino = statSync(netnsPath(name)).ino
  } catch {
    return false
  }
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`) return true
    } catch {
      // exited, or a kernel thread
    }
  }
  return false
}

export async function netnsAdd(name: string): Promise<void> {
  await runOrThrow(`creating netns ${name}`, 'ip', ['netns', 'add', name])
  // Loopback up: pods talk to themselves like any container.
  await runOrThrow(`bringing up lo in ${name}`, 'ip', ['-n', name, 'link', 'set', 'lo', 'up'])
}

/**
 * Delete a netns; absent is fine (idempotent). Its links are deleted first: the kernel
 * tears a netns down asynchronously, so a veth whose peer is on the host would otherwise
 * outlive this call for a moment; deleting one end removes the pair at once.
 */
/**
 * Forget the neighbour entry for an address, in this namespace or the one at `netnsPath`: the next pod
 * given it has another MAC, and a stale entry makes the first packets to it wait out the kernel's
 * probes (seconds).
 */
export async function neighForget(ip: string, netnsPath?: string): Promise<void> {
  const flush = ['ip', 'neigh', 'flush', 'to', ip]
  if (netnsPath) await run('nsenter', [`--net=${netnsPath}`, ...flush], {timeoutMs: 5000})
  else await run(flush[0], flush.slice(1), {timeoutMs: 5000})
}

export async function netnsDel(name: string): Promise<void> {
  if (!netnsExists(name)) return
  const inside = await run('ip', ['-n', name, '-j', 'link', 'show'], {timeoutMs: 5000})
  if (ok(inside)) {
    for (const l of JSON.parse(inside.stdout || '[]') as IpLink[]) {
      if (l.ifname !== 'lo') await run('ip', ['-n', name, 'link', 'del', 'dev', l.ifname], {timeoutMs: 5000})
    }
  }
  const r = await run('ip', ['netns', 'del', name], {timeoutMs: 5000})
  if (!ok(r) && netnsExists(name)) throw new Error(`deleting netns ${name}: ${describeRun(r)}`)
}

export async function links(netns?: string): Promise<IpLink[]> {
  return ipJson<IpLink[]>(['-d', 'link', 'show'], netns)
}

export async function link(name: string, netns?: string): Promise<IpLink | undefined> {
  const r = await run('ip', [...nsArgs(netns), '-j', '-d', 'link', 'show', 'dev', name], {timeoutMs: 5000})
  if (!ok(r)) return undefined
  return (JSON.parse(r.stdout) as IpLink[])[0]
}

export async function linkByIndex(ifindex: number, netns?: string): Promise<IpLink | undefined> {
  return (await links(netns)).find((l) => l.ifindex === ifindex)
}

export async function addrs(netns?: string, dev?: string): Promise<IpAddr[]> {
  return ipJson<IpAddr[]>(['addr', 'show', ...(dev ? ['dev', dev] : [])], netns)
}

export async function routes(netns?: string): Promise<IpRoute[]> {
  return ipJson<IpRoute[]>(['-4', 'route', 'show'], netns)
}

/** Delete a link; absent is fine (idempotent). A veth's peer goes with it. */
export async function linkDel(name: string, netns?: string): Promise<void> {
  if (!(await link(name, netns))) return
  const r = await run('ip', [...nsArgs(netns), 'link', 'del', 'dev', name], {timeoutMs: 5000})
  if (!ok(r) && (await link(name, netns))) throw new Error(`deleting link ${name}: ${describeRun(r)}`)
}

/**
 * The host end of a pod interface's veth, through the interface's peer index (never by
 * name: host-side names are the plugin's choice). By netns path, so podman pods work too.
 * `hostNetns`: where the host end lives when it is not this machine's namespace (a lab 5 node).
 */
export async function hostPeer(netnsPath: string, ifname: string, hostNetns?: string): Promise<IpLink | undefined> {
  const r = await run('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'link', 'show', 'dev', ifname], {timeoutMs: 5000})
  if (!ok(r)) return undefined
  const inPod = (JSON.parse(r.stdout) as IpLink[])[0]
  return inPod?.link_index ? linkByIndex(inPod.link_index, hostNetns) : undefined
}

/**
 * Addresses on an interface inside a netns given by path (a CRI or podman pod's): IPv4, or IPv6
 * of one scope (`link` for the fe80:: address every interface gets). Empty when it cannot be read.
 */
export async function podAddrInfo(
  netnsPath: string,
  ifname: string,
  family: '-4' | '-6' = '-4',
  scope?: 'link' | 'global',
): Promise<IpAddrInfo[]> {
  const args = ['ip', '-j', family, 'addr', 'show', 'dev', ifname, ...(scope ? ['scope', scope] : [])]
  const r = await run('nsenter', [`--net=${netnsPath}`, ...args], {timeoutMs: 5000})
  if (!ok(r)) return []
  return (JSON.parse(r.stdout || '[]') as IpAddr[])[0]?.addr_info ?? []
}

/**
 * Give an interface inside a netns (by path) one more address, or keep it if it is there. `nodad`
 * (IPv6): usable at once, where an address waits out duplicate address detection (1-2 s) first.
 * false when it could not be added (no IPv6 in that netns).
 */
export async function podAddrReplace(
  netnsPath: string,
  ifname: string,
  cidr: string,
  opts: {nodad?: boolean} = {},
): Promise<boolean> {
  const args = ['ip', 'addr', 'replace', cidr, 'dev', ifname, ...(opts.nodad ? ['nodad'] : [])]
  return ok(await run('nsenter', [`--net=${netnsPath}`, ...args], {timeoutMs: 5000}))
}

/** The MAC of an interface inside a netns given by path (what a CRI result does not carry). */
export async function podMac(netnsPath: string, ifname: string): Promise<string | undefined> {
  const r = await run('nsenter', [`--net=${netnsPath}`, 'ip', '-j', 'link', 'show', 'dev', ifname], {timeoutMs: 5000})
  if (!ok(r)) return undefined
  return (JSON.parse(r.stdout || '[]') as Array<{address?: string}>)[0]?.address
}

/** IPv4 addresses on an interface inside a netns given by path. */
export async function podAddresses(netnsPath: string, ifname: string): Promise<string[]> {
  return (await podAddrInfo(netnsPath, ifname)).map((x) => x.local)
}

/** One forwarding database entry (`bridge -j fdb show`): on a VXLAN device, `dst` is a remote VTEP. */
export interface FdbEntry {
  mac: string
  dst?: string
  viaIf?: string
  port?: number
  vni?: number
  flags?: string[]
  state?: string
}

/** A device's forwarding database, in a netns or the host's. */
export async function fdbEntries(dev: string, netns?: string): Promise<FdbEntry[]> {
  const r = await run('bridge', [...nsArgs(netns), '-j', 'fdb', 'show', 'dev', dev], {timeoutMs: 5000})
  if (!ok(r))
    throw new Error(
      `reading ${netns ? `netns ${netns}` : 'host'} state with bridge fdb show dev ${dev}: ${describeRun(r)}`,
    )
  const text = r.stdout.trim()
  return (text ? JSON.parse(text) : []) as FdbEntry[]
}

/** Links enslaved to a bridge. */
export async function bridgePorts(bridge: string): Promise<IpLink[]> {
  return (await links()).filter((l) => l.master === bridge)
}

/** Named network namespaces by the id this namespace gives them (a veth's `link_netnsid` names its peer's). */
export async function netnsById(): Promise<Map<number, string>> {
  const list = await ipJson<Array<{name: string; id?: number}>>(['netns', 'list'])
  return new Map(list.flatMap((n) => (n.id === undefined ? [] : [[n.id, n.name] as const])))
}

/** Remove any XDP program from an interface (both generic and native slots). */
export async function xdpOff(dev: string, netns?: string): Promise<void> {
  if (!(await link(dev, netns))) return
  for (const mode of ['xdpgeneric', 'xdpdrv', 'xdp']) {
    await run('ip', [...nsArgs(netns), 'link', 'set', 'dev', dev, mode, 'off'], {timeoutMs: 5000})
  }
}

/** ifindex -> interface name, in this network namespace. */
export function linksByIndex(): Map<number, string> {
  const m = new Map<number, string>()
  try {
    for (const name of readdirSync('/sys/class/net')) {
      try {
        m.set(Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')), name)
      } catch {
        /* gone meanwhile */
      }
    }
  } catch {
    /* no sysfs: no names to give */
  }
  return m
}
