import {
  chmodSync,
  copyFileSync,
  statSync,
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
  existsSync,
  readdirSync,
  rmSync,
} from 'node:fs'
import {dirname, basename, join} from 'node:path'

/** Write via temp file + fsync + rename: a reader sees the old or the new file, never half of one. */
export function writeFileAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), {recursive: true})
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  const fd = openSync(tmp, 'w', 0o644)
  try {
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

export interface JsonLoad<T> {
  value: T | undefined
  /** Set when the file existed but could not be parsed: where it was moved. */
  movedAside?: string
}

/** Now, as a file-name suffix (no colons or dots): for backups and files moved aside. */
export const fileStamp = (): string => new Date().toISOString().replace(/[:.]/g, '-')

/** Read JSON; a corrupt file is moved aside (kept for inspection) rather than crashing the CLI. */
export function readJsonOrMoveAside<T>(path: string, isValid: (v: unknown) => v is T): JsonLoad<T> {
  if (!existsSync(path)) return {value: undefined}
  const text = readFileSync(path, 'utf8')
  try {
    const parsed: unknown = JSON.parse(text)
    if (isValid(parsed)) return {value: parsed}
  } catch {
    // fall through to move aside
  }
  const aside = `${path}.corrupt-${fileStamp()}`
  renameSync(path, aside)
  return {value: undefined, movedAside: aside}
}

/** Remove temp files left by writers that died mid-write (their pid is in the name). Call under the lock. */
export function sweepStaleTemps(path: string): void {
  const dir = dirname(path)
  const prefix = `.${basename(path)}.`
  if (!existsSync(dir)) return
  for (const f of readdirSync(dir)) {
    if (!f.startsWith(prefix) || !f.endsWith('.tmp')) continue
    const pid = Number(f.slice(prefix.length).split('.')[0])
    if (pid === process.pid) continue
    try {
      process.kill(pid, 0)
    } catch {
      rmSync(join(dir, f), {force: true})
    }
  }
}

/**
 * Move a file, also across filesystems: rename(2) fails with EXDEV when /var and /opt (a backup and the
 * file it restores) are separate mounts, so the file is then copied beside its destination, renamed over
 * it (a reader never sees half of it), and the source removed.
 */
export function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to)
    return
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error
  }
  const tmp = join(dirname(to), `.${basename(to)}.${process.pid}.${Date.now()}.tmp`)
  try {
    copyFileSync(from, tmp)
    chmodSync(tmp, statSync(from).mode & 0o7777)
    renameSync(tmp, to)
  } finally {
    rmSync(tmp, {force: true})
  }
  rmSync(from, {force: true})
}
