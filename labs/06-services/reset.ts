import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import type {Discoverer} from '#reset/actions.js'
import {links, linkDel} from '#net/ip.js'
import {BRIDGE_PREFIX} from './context.js'
import {CGROUP_PREFIX, cgroup2Root, removeCgroup} from './cgroups.js'

/** Lab 6: the cgroups a check run made (and the connect4 programs attached to them) and its bridge, left by a SIGKILL. */
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
      perform: async () => {
        removeCgroup(join(root, n))
        if (existsSync(join(root, n))) throw new Error(`${join(root, n)} still has processes in it`)
      },
    }))
  return [...cgroups, ...bridges]
}
