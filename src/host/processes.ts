import {execa} from 'execa'
import {readFileSync, readdirSync, mkdirSync, openSync, closeSync} from 'node:fs'
import {dirname} from 'node:path'

/** Kernel start time of a pid (clock ticks since boot), to tell our process from a reused pid. */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22, counted after the ")" that ends the command name (which may hold spaces).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return Number(rest[19])
  } catch {
    return undefined
  }
}

export function processAlive(pid: number, startTime?: number): boolean {
  const st = processStartTime(pid)
  if (st === undefined) return false
  if (startTime !== undefined && st !== startTime) return false
  // A zombie is not alive for our purposes.
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
    return state !== 'Z'
  } catch {
    return false
  }
}

/** Start a long-running background process, output to a log file, not tied to this CLI's lifetime. */
export function spawnDetached(
  file: string,
  args: string[],
  logPath: string,
  env?: Record<string, string>,
): {pid: number; startTime: number | undefined} {
  mkdirSync(dirname(logPath), {recursive: true})
  // A raw fd (not a stream execa pipes through the parent) lets this CLI exit while the child runs on.
  const fd = openSync(logPath, 'a')
  const child = execa(file, args, {
    detached: true,
    stdin: 'ignore',
    // execa accepts any fd at run time; its types only list 3-9 literally.
    stdout: fd as 3,
    stderr: fd as 3,
    env,
    reject: false,
    cleanup: false,
  })
  closeSync(fd)
  child.unref()
  // The promise must not keep the CLI alive or reject unhandled.
  child.catch(() => undefined)
  if (!child.pid) throw new Error(`could not start ${file}`)
  return {pid: child.pid, startTime: processStartTime(child.pid)}
}

/** Stop a process recorded in the ledger (details {pid, startTime}). */
export function stopRecordedProcess(details: Record<string, unknown>): Promise<void> {
  return stopProcess(Number(details.pid), details.startTime as number | undefined)
}

/** Stop a process we started: TERM, then KILL after a grace period. Absent is fine. */
export async function stopProcess(pid: number, startTime?: number, graceMs = 1000): Promise<void> {
  if (!processAlive(pid, startTime)) return
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return
  }
  const deadline = Date.now() + graceMs
  while (Date.now() < deadline) {
    if (!processAlive(pid, startTime)) return
    await new Promise((r) => setTimeout(r, 25))
  }
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    /* gone */
  }
}

/** One process as /proc shows it. */
export interface ProcessEntry {
  pid: number
  ppid: number
  /** Its process group: a plugin runs in its own, with its children (a `sleep`). */
  pgid: number
  argv: string[]
}

/** Every live process but this one, read from /proc once (a zombie has no argv and is left out). */
export function processTable(): ProcessEntry[] {
  const table: ProcessEntry[] = []
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue
    try {
      const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').filter(Boolean)
      if (argv.length === 0) continue
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      // Fields 4 and 5 (ppid, pgrp), counted after the ")" that ends the command name.
      const [, ppid, pgid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      table.push({pid: Number(p), ppid: Number(ppid), pgid: Number(pgid), argv})
    } catch {
      // exited meanwhile
    }
  }
  return table
}

/** Processes running a program file: as the executable or as the script an interpreter runs. */
export const processesRunning = (path: string, table = processTable()): ProcessEntry[] =>
  table.filter((p) => p.argv[0] === path || p.argv[1] === path)

/** SIGKILL one process; gone is fine. */
export function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

/** SIGKILL a process group (a plugin and what it started) and wait, briefly, until it is gone. */
export async function killProcessGroup(pgid: number, waitMs = 2000): Promise<void> {
  try {
    process.kill(-pgid, 'SIGKILL')
  } catch {
    return
  }
  const deadline = Date.now() + waitMs
  while (Date.now() < deadline) {
    try {
      process.kill(-pgid, 0)
    } catch {
      return
    }
    await new Promise((r) => setTimeout(r, 20))
  }
}
