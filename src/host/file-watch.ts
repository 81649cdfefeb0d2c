import {createHash} from 'node:crypto'
import {watch, readFileSync, type FSWatcher} from 'node:fs'
import {join} from 'node:path'
import {filesystemOf} from './mounts.js'

// The one file watcher: `lab N --watch` (the learner saves a workspace file) and the policy
// controller (pod records, policy state, applied policy files). inotify where it works;
// polling on filesystems whose changes it never reports (VM synced folders, network mounts,
// FUSE), and when asked.

const POLL_FS = new Set(['vboxsf', '9p', 'nfs', 'nfs4', 'cifs', 'smb3', 'virtiofs', 'prl_fs', 'vmhgfs'])

export interface FileWatch {
  /** Why it polls, when it does. */
  polling?: string
  stop(): void
}

/**
 * Call onChange (debounced) with the names of the files in `dir` that changed. Only content
 * changes count: an editor touching a file without changing it does not re-run the checks.
 * The directory is watched, not the files: editors and atomic writes replace the inode.
 */
export function watchFiles(
  dir: string,
  files: string[],
  onChange: (changed: string[]) => void,
  opts: {debounceMs?: number; poll?: boolean; pollMs?: number} = {},
): FileWatch {
  const signature = (f: string): string => {
    try {
      return createHash('sha1')
        .update(readFileSync(join(dir, f)))
        .digest('hex')
    } catch {
      return 'absent'
    }
  }
  const seen = new Map(files.map((f) => [f, signature(f)]))
  let timer: NodeJS.Timeout | undefined
  const check = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => {
      const changed = files.filter((f) => {
        const now = signature(f)
        if (now === seen.get(f)) return false
        seen.set(f, now)
        return true
      })
      if (changed.length) onChange(changed)
    }, opts.debounceMs ?? 150)
  }
  const fs = filesystemOf(dir)
  const why = opts.poll
    ? 'asked to poll (--poll)'
    : fs && (POLL_FS.has(fs) || fs.startsWith('fuse'))
      ? `${dir} is on ${fs}, which does not report file events`
      : undefined
  if (!why) {
    try {
      const w: FSWatcher = watch(dir, (_event, name) => {
        if (name === null || files.includes(name)) check()
      })
      return {stop: () => (w.close(), clearTimeout(timer))}
    } catch (err) {
      return poll(`file events are unavailable here (${(err as Error).message})`)
    }
  }
  return poll(why)

  function poll(reason: string): FileWatch {
    const interval = setInterval(check, opts.pollMs ?? 500)
    return {polling: reason, stop: () => (clearInterval(interval), clearTimeout(timer))}
  }
}
