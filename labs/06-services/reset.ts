import {existsSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import type {Discoverer} from '#reset/actions.js'
import {links, linkDel} from '#net/ip.js'
import {BRIDGE_PREFIX} from './context.js'
import {CGROUP_PREFIX, cgroup2Root, removeCgroup} from './cgroups.js'
import {inUseBy, liveRunNamedIn} from '#host/live-runs.js'

/** The run a cgroup `ebpfcni-services-<pid>-<hex>` belongs to, while it is alive: its objects stay. */
function cgroupHolder(dir: string, name: string): string | undefined {
  const pid = Number(/^(\d+)-/.exec(name.slice(CGROUP_PREFIX.length))?.[1])
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  try {
    const run = liveRunNamedIn(pid, statSync(dir).birthtimeMs || statSync(dir).ctimeMs)
    return run && inUseBy(run)
  } catch {
    return undefined
  }
}

/**
 * Lab 6: the cgroups a check run made (and the connect4 programs attached to them) and its bridge, left
 * by a SIGKILL. A cgroup whose run (the pid in its name) is still alive is that run's: it stays.
 */
export const servicesCgroupDiscoverer: Discoverer = async () => {
  const root = cgroup2Root()
  const bridges = (await links().catch(() => []))
    .filter((l) => l.ifname.startsWith(BRIDGE_PREFIX))
    .map((l) => ({
      description: `delete the bridge ${l.ifname} (a lab 6 check run's network)`,
      kind: 'link',
      entryIds: [],
      perform: () => linkDel(l.ifname),
    }))
  if (!root || !existsSync(root)) return bridges
  const cgroups = readdirSync(root)
    .filter((n) => n.startsWith(CGROUP_PREFIX))
    .map((n) => ({
      description: `remove the cgroup ${join(root, n)} (and the connect4 program attached to it)`,
      kind: 'cgroup',
      entryIds: [],
      heldBy: cgroupHolder(join(root, n), n),
      perform: async () => {
        removeCgroup(join(root, n))
        if (existsSync(join(root, n))) throw new Error(`${join(root, n)} still has processes in it`)
      },
    }))
  return [...cgroups, ...bridges]
}
