import {readFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {processAlive, processStartTime, type ProcessEntry} from './processes.js'

// Another ebpfcni run that is still alive (a check in another terminal, `lab all --auto`, a
// metrics exporter in the foreground) owns what it made until it ends: reset leaves that alone
// and says whose it is. A run is named by its pid and kernel start time, so a reused pid is
// never taken for it.

/** A process as the ledger records it: the run that made an entry. */
export interface RunStamp {
  pid: number
  /** Kernel start time (clock ticks since boot), to tell it from a later process with its pid. */
  startTime?: number
}

/** A live run of ebpfcni other than this process, and what it runs ("ebpfcni lab all"). */
export interface LiveRun {
  pid: number
  command: string
}

let self: RunStamp | undefined
/** This process, as the ledger stamps the entries it records. */
export const thisRun = (): RunStamp => (self ??= {pid: process.pid, startTime: processStartTime(process.pid)})

/** Why reset leaves something: "in use by pid 16822: ebpfcni lab all". */
export const inUseBy = (run: LiveRun): string => `in use by pid ${run.pid}: ${run.command}`

const argvOf = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return []
  }
}

/** The package a `…/bin/run.js` belongs to, by its package.json: only ebpfcni's counts. */
const isEbpfcniEntry = (arg: string): boolean => {
  if (basename(arg) !== 'run.js' || basename(dirname(arg)) !== 'bin') return false
  try {
    return (
      (JSON.parse(readFileSync(join(dirname(dirname(arg)), 'package.json'), 'utf8')) as {name?: string}).name ===
      'ebpfcni'
    )
  } catch {
    return false
  }
}

/**
 * "ebpfcni lab all" for `node /x/bin/run.js lab all --auto --json`: the command and its words up to
 * the first flag. Undefined for a process that is not ebpfcni's CLI (a test runner, the plugin).
 */
export function ebpfcniCommand(argv: readonly string[]): string | undefined {
  const entry = argv.slice(0, 3).findIndex(isEbpfcniEntry)
  if (entry < 0) return undefined
  const words: string[] = []
  for (const a of argv.slice(entry + 1)) {
    if (a.startsWith('-') || words.length === 3) break
    words.push(a)
  }
  return ['ebpfcni', ...words].join(' ')
}

/**
 * The run with this pid (and start time, when known) if it is alive, is ebpfcni's CLI and is not this
 * process. A ledger entry stamped by another process (a test recording entries in-process, as a dead
 * run would have left them) has no run that holds it.
 */
export function liveRun(stamp: RunStamp): LiveRun | undefined {
  if (stamp.pid === process.pid || !processAlive(stamp.pid, stamp.startTime)) return undefined
  const command = ebpfcniCommand(argvOf(stamp.pid))
  return command ? {pid: stamp.pid, command} : undefined
}

/** Clock ticks per second in /proc/PID/stat (USER_HZ, 100 on every Linux this runs on). */
const USER_HZ = 100

/** When a process started, in ms since the epoch (to compare with a file's times); undefined when gone. */
function startedAtMs(pid: number): number | undefined {
  const ticks = processStartTime(pid)
  if (ticks === undefined) return undefined
  const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))
  return btime ? Number(btime[1]) * 1000 + (ticks / USER_HZ) * 1000 : undefined
}

/**
 * The live run that made an object named after its pid (a cgroup `ebpfcni-services-<pid>-*`), made at
 * `madeAtMs`: a process with that pid that started after the object was made only reuses the pid.
 * /proc/stat's boot time is whole seconds, hence the one second of slack.
 */
export function liveRunNamedIn(pid: number, madeAtMs: number): LiveRun | undefined {
  if (pid === process.pid || !processAlive(pid)) return undefined
  const started = startedAtMs(pid)
  if (started === undefined || started > madeAtMs + 1000) return undefined
  // The start time proves it the maker, whatever it runs (a test runner runs checks in-process too).
  const argv = argvOf(pid)
  return {
    pid,
    command:
      ebpfcniCommand(argv) ??
      argv
        .map((a) => basename(a))
        .join(' ')
        .slice(0, 60),
  }
}

/**
 * The live ebpfcni run a process runs under (itself or an ancestor): a plugin call a live check
 * is waiting for is that check's, not a leftover of a killed run (whose calls are reparented away).
 */
export function liveRunAbove(pid: number, table: readonly ProcessEntry[]): LiveRun | undefined {
  const byPid = new Map(table.map((p) => [p.pid, p]))
  const seen = new Set<number>()
  for (let p = byPid.get(pid); p && p.pid > 1 && !seen.has(p.pid); p = byPid.get(p.ppid)) {
    seen.add(p.pid)
    const command = p.pid === process.pid ? undefined : ebpfcniCommand(p.argv)
    if (command) return {pid: p.pid, command}
  }
  return undefined
}
