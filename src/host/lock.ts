import {openSync, closeSync, writeSync, readFileSync, unlinkSync, mkdirSync, statSync} from 'node:fs'
import {dirname} from 'node:path'

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs
  } catch {
    return 0
  }
}

/**
 * A lock file holding the owner's pid. Node has no flock; O_EXCL creation plus
 * stealing from dead owners gives mutual exclusion between CLI processes.
 */
export function withFileLockSync<T>(lockPath: string, fn: () => T, timeoutMs = 10_000): T {
  mkdirSync(dirname(lockPath), {recursive: true})
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const fd = openSync(lockPath, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let owner = NaN
      try {
        owner = Number.parseInt(readFileSync(lockPath, 'utf8'), 10)
      } catch {
        continue // vanished between open and read: retry
      }
      // An empty file younger than 2 s is an owner between open and write, not a dead one.
      const beingWritten = !Number.isFinite(owner) && ageMs(lockPath) < 2000
      if (!beingWritten && (!Number.isFinite(owner) || !pidAlive(owner))) {
        try {
          unlinkSync(lockPath)
        } catch {
          /* someone else stole it first */
        }
        continue
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath} held by pid ${owner}`)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20)
    }
  }
  try {
    return fn()
  } finally {
    try {
      unlinkSync(lockPath)
    } catch {
      /* already gone */
    }
  }
}
