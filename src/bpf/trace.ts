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
}

/**
 * Stream trace_pipe (bpf_printk output) for a bounded time. trace_pipe is read by a
 * child process: a blocking read must never hold this CLI's own threads.
 */
export async function streamTrace(o: TraceOptions): Promise<number> {
  const child = execa('cat', [`${TRACEFS}/trace_pipe`], {
    reject: false,
    timeout: o.seconds * 1000,
    buffer: false,
    stdin: 'ignore',
  })
  let count = 0
  let rest = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n')
    rest = lines.pop() ?? ''
    for (const raw of lines) {
      if (o.filter && !raw.includes(o.filter)) continue
      count++
      o.onLine(decodeTraceLine(raw))
    }
  })
  await child
  return count
}
