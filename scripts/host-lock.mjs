// The host lock, for scripts that make namespaces, links, pins and CNI files (bench-checks,
// verdict-stability): one such run at a time on this kernel, as scripts/test.sh holds it. Node
// cannot flock, so the script runs itself again under flock(1); `-o` keeps the lock from the
// daemons it starts (DESIGN.md). EBPFCNI_HOST_LOCKED says the lock is already held (test.sh, or
// an outer flock): then it runs as it is.
import {spawnSync} from 'node:child_process'

export const HOST_LOCK = '/run/lock/ebpfcni-test-suite.lock'

/** Return when this process holds the host lock; otherwise run this script again under it and exit with its status. */
export function holdHostLock() {
  if (process.env.EBPFCNI_HOST_LOCKED) return
  const r = spawnSync('flock', ['-o', HOST_LOCK, process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: {...process.env, EBPFCNI_HOST_LOCKED: '1'},
  })
  if (r.error) {
    console.error(`could not take the host lock ${HOST_LOCK} with flock: ${r.error.message}`)
    process.exit(2)
  }
  process.exit(r.status ?? 1)
}
