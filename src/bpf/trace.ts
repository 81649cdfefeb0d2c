import {writeFileSync} from 'node:fs'
import {execa} from 'execa'
import {TRACEFS} from '../host/paths.js'

/** bpf_printk lines carry addresses as dotted (%pI4), hex or decimal u32: show them dotted. */
export function decodeTraceLine(line: string): string {
  return line.replace(/\b0x([0-9a-f]{8})\b/gi, (m, hex: string) => {
    const n = Number.parseInt(hex, 16)
    return looksPrivate(n) ? dotted(n) : looksPrivate(swap(n)) ? dotted(swap(n)) : m
  })
}

const dotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.')
const swap = (n: number): number =>
  (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0
// Lab pods live in 10.0.0.0/8; decoding only those avoids rewriting unrelated hex.
const looksPrivate = (n: number): boolean => n >>> 24 === 10

export interface TraceOptions {
  seconds: number
  filter?: string
  onLine: (line: string) => void
  /** A line read that the filter left out. */
  onSkipped?: () => void
  /** Stop reading early (the caller has seen what it waited for). */
  signal?: AbortSignal
}

/**
 * Stream trace_pipe (bpf_printk output) for a bounded time. trace_pipe is read by a
 * child process: a blocking read must never hold this CLI's own threads.
 */
export async function streamTrace(opts: TraceOptions): Promise<number> {
  const child = execa('cat', [`${TRACEFS}/trace_pipe`], {
    reject: false,
    timeout: opts.seconds * 1000,
    buffer: false,
    stdin: 'ignore',
    ...(opts.signal ? {cancelSignal: opts.signal} : {}),
  })
  let count = 0
  let rest = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n')
    rest = lines.pop() ?? ''
    for (const raw of lines) {
      if (opts.filter && !raw.includes(opts.filter)) {
        opts.onSkipped?.()
        continue
      }
      count++
      opts.onLine(decodeTraceLine(raw))
    }
  })
  await child
  return count
}

/** Write a line into the trace (trace_marker): it reaches trace_pipe after every line written before it. */
export function writeTraceMarker(text: string): void {
  writeFileSync(`${TRACEFS}/trace_marker`, text)
}

/**
 * The trace lines printed while `send` ran, and only those: a marker before and after it bound
 * the window, and reading stops at the second marker, so nothing depends on how fast the machine
 * is. `limitMs` only tells a hung reader from a slow one.
 */
export async function traceDuring(send: () => Promise<void>, limitMs = 20_000): Promise<string[]> {
  const tag = `ebpfcni-mark-${process.pid}-${Date.now().toString(36)}`
  const [start, end] = [`${tag}-start`, `${tag}-end`]
  const lines: string[] = []
  const stop = new AbortController()
  const seen = (marker: string) => lines.some((l) => l.includes(marker))
  let wake: () => void = () => undefined
  const reader = streamTrace({
    seconds: limitMs / 1000,
    signal: stop.signal,
    onLine: (l) => {
      lines.push(l)
      wake()
    },
  })
  const until = (marker: string): Promise<boolean> =>
    new Promise((resolve) => {
      const check = () => seen(marker) && resolve(true)
      wake = check
      void reader.then(() => resolve(seen(marker)))
      check()
    })
  try {
    // The reader may start after the marker is written: trace_pipe keeps unread lines for it.
    writeTraceMarker(start)
    if (!(await until(start)))
      throw new Error(`trace_pipe showed no line within ${limitMs / 1000} s (is tracefs mounted?)`)
    await send()
    writeTraceMarker(end)
    if (!(await until(end)))
      throw new Error(`trace_pipe fell silent: the end marker did not arrive within ${limitMs / 1000} s`)
  } finally {
    stop.abort()
    await reader.catch(() => undefined)
  }
  const from = lines.findIndex((l) => l.includes(start))
  const to = lines.findIndex((l) => l.includes(end))
  return lines.slice(from + 1, to)
}
