import {existsSync, readdirSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'
import {mountPointOf} from '#host/mounts.js'

// The cgroups (v2) a run makes for its pods' processes.

/** The cgroups a run makes are named so (reset.ts finds them after a SIGKILL). */
export const CGROUP_PREFIX = 'ebpfcni-services-'

/**
 * The cgroup lab 6 makes its runs' cgroups in: the root of the cgroup v2 hierarchy (/sys/fs/cgroup, or
 * /sys/fs/cgroup/unified with hybrid cgroups); below it, EBPFCNI_CGROUP_PARENT when set. Cgroups are one
 * tree for the whole machine: a test shard's private host (scripts/private-host.sh) sets that to a cgroup
 * of its own, so that its runs, resets and "none left" see only its own cgroups.
 */
export const cgroup2Root = (): string | undefined => {
  const root = mountPointOf('cgroup2')
  const parent = process.env.EBPFCNI_CGROUP_PARENT
  return root && parent ? join(root, parent) : root
}

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
