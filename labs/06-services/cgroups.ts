import {existsSync, readdirSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'
import {mountPointOf} from '#host/mounts.js'

// The cgroups (v2) a run makes for its pods' processes.

/** The cgroups a run makes are named so (reset.ts finds them after a SIGKILL). */
export const CGROUP_PREFIX = 'ebpfcni-services-'

/** Where the cgroup v2 hierarchy is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified with hybrid cgroups). */
export const cgroup2Root = (): string | undefined => mountPointOf('cgroup2')

/** Remove a cgroup and those under it, leaf first (a cgroup with processes in it stays: EBUSY). */
export function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return
  for (const d of readdirSync(dir, {withFileTypes: true})) if (d.isDirectory()) removeCgroup(join(dir, d.name))
  try {
    rmdirSync(dir)
  } catch {
    // still busy or already gone: reset names it
  }
}
