import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import type {Discoverer} from '#host/reset.js'
import {CGROUP_PREFIX, cgroup2Root, removeCgroup} from './context.js'

/** Lab 6: the cgroups a check run made (and the connect4 programs attached to them), left by a SIGKILL. */
export const servicesCgroupDiscoverer: Discoverer = async () => {
  const root = cgroup2Root()
  if (!root || !existsSync(root)) return []
  return readdirSync(root)
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
}
