import {existsSync, readFileSync, readdirSync, readlinkSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {run, ok} from '../host/exec.js'
import {BPF_PIN_ROOT, TRACEFS} from '../host/paths.js'
import {allAttachments} from './tcx.js'
import type {Attachment} from '../net/attachments.js'

// When `bpf trace` read no line: what the host shows that would explain it, read and never
// guessed. The programs looked at are the labs' (pinned under the pin root) and those attached
// to the interfaces of this network namespace (not other namespaces': lab 5's nodes); for each, whether its instructions call bpf_trace_printk (what
// bpf_printk compiles to) and where it is attached. Whether it ran is said only when the kernel
// counts runs (kernel.bpf_stats_enabled = 1), and tracing_on and other readers of trace_pipe
// (each line goes to one reader) only as read.

export interface SilentProgram {
  id: number
  name: string | null
  /** Where it is pinned under the pin root, if it is. */
  pin: string | null
  /** Whether its instructions call bpf_trace_printk or bpf_trace_vprintk; null: they could not be read. */
  printk: boolean | null
  attached: Array<{dev: string; hook: Attachment['hook']}>
  /** run_cnt as the kernel counts it (only while kernel.bpf_stats_enabled is 1); null: not read. */
  runs: number | null
}

export interface TraceSilence {
  /** tracing_on: 0 stops every write to the buffer; null: unreadable. */
  tracingOn: boolean | null
  /** kernel.bpf_stats_enabled; null: unreadable. */
  statsEnabled: boolean | null
  programs: SilentProgram[]
  /** Other processes that hold trace_pipe open: they take the lines they read. */
  otherReaders: Array<{pid: number; command: string}>
}

const readFlag = (path: string): boolean | null => {
  try {
    return readFileSync(path, 'utf8').trim() !== '0'
  } catch {
    return null
  }
}

/** Programs pinned under the pin root (and one level below: lab 5's nodes), by path. */
function pinnedPrograms(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string, depth: number): void => {
    let names: string[]
    try {
      names = readdirSync(dir).sort()
    } catch {
      return
    }
    for (const n of names) {
      const p = join(dir, n)
      try {
        if (statSync(p).isDirectory()) {
          if (depth > 0) walk(p, depth - 1)
        } else out.push(p)
      } catch {
        /* gone meanwhile */
      }
    }
  }
  if (existsSync(root)) walk(root, 1)
  return out
}

interface ProgShow {
  id: number
  name?: string
  run_cnt?: number
}

async function bpftoolJson<T>(args: string[]): Promise<T | undefined> {
  const r = await run('bpftool', ['-j', ...args], {timeoutMs: 10_000, maxOutputBytes: 8 * 1024 * 1024})
  if (!ok(r) || !r.stdout.trim()) return undefined
  try {
    return JSON.parse(r.stdout) as T
  } catch {
    return undefined
  }
}

/** Whether a loaded program calls bpf_trace_printk (bpf_printk) or bpf_trace_vprintk, from its translated instructions. */
async function callsPrintk(id: number): Promise<boolean | null> {
  const insns = await bpftoolJson<Array<{disasm?: string}>>(['prog', 'dump', 'xlated', 'id', String(id)])
  if (!insns) return null
  return insns.some((i) => /\bcall bpf_trace_v?printk#/.test(i.disasm ?? ''))
}

/**
 * Processes other than this one with trace_pipe open (read from /proc; unreadable entries skipped).
 * Matched by device and inode, not by path: tracefs is one file system wherever it is mounted
 * (/sys/kernel/debug/tracing, a container's own mount), and each path's trace_pipe is the same file.
 */
function traceReaders(): Array<{pid: number; command: string}> {
  const out: Array<{pid: number; command: string}> = []
  let pids: string[]
  let target: {dev: number; ino: number}
  try {
    target = statSync(`${TRACEFS}/trace_pipe`)
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d))
  } catch {
    return out
  }
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue
    let fds: string[]
    try {
      fds = readdirSync(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    const holds = fds.some((fd) => {
      try {
        // The path first (cheap), then the file itself for the few named trace_pipe.
        if (!readlinkSync(`/proc/${pid}/fd/${fd}`).endsWith('/trace_pipe')) return false
        const st = statSync(`/proc/${pid}/fd/${fd}`)
        return st.dev === target.dev && st.ino === target.ino
      } catch {
        return false
      }
    })
    if (!holds) continue
    let command = '?'
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 120)
    } catch {
      /* exited meanwhile */
    }
    out.push({pid: Number(pid), command})
  }
  return out
}

/** What explains a silent trace_pipe, as far as the host shows it. */
export async function traceSilence(root = BPF_PIN_ROOT): Promise<TraceSilence> {
  const byId = new Map<number, SilentProgram>()
  const entry = (id: number): SilentProgram => {
    let p = byId.get(id)
    if (!p) byId.set(id, (p = {id, name: null, pin: null, printk: null, attached: [], runs: null}))
    return p
  }
  for (const pin of pinnedPrograms(root)) {
    const show = await bpftoolJson<ProgShow>(['prog', 'show', 'pinned', pin])
    if (show?.id) entry(show.id).pin = pin // a map, or not readable: not a program of ours
  }
  for (const a of await allAttachments()) {
    const p = entry(a.id)
    p.attached.push({dev: a.dev, hook: a.hook})
    p.name ??= a.name ?? null
  }
  const statsEnabled = readFlag('/proc/sys/kernel/bpf_stats_enabled')
  for (const p of byId.values()) {
    const show = await bpftoolJson<ProgShow>(['prog', 'show', 'id', String(p.id)])
    p.name = show?.name ?? p.name
    // bpftool prints run_cnt only when the kernel has counted run time, i.e. stats were on.
    if (statsEnabled) p.runs = show?.run_cnt ?? (show ? 0 : null)
    p.printk = await callsPrintk(p.id)
  }
  return {
    tracingOn: readFlag(`${TRACEFS}/tracing_on`),
    statsEnabled,
    programs: [...byId.values()].sort((a, b) => a.id - b.id),
    otherReaders: traceReaders(),
  }
}
