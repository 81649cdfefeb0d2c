import {closeSync, existsSync, ftruncateSync, openSync, readSync, statSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {decodeFlowEvent, FLOW_EVENT_SIZE, type FlowEvent} from '../bpf/flow-events.js'
import {observeDir} from './ring-owner.js'

// The flow log (flows.bin): the ring's owner appends every record it drains (raw 32-byte flow
// events), other readers follow it, and `observe --last` reads its tail as history.

export const flowLogPath = (pinDir: string): string => join(observeDir(pinDir), 'flows.bin')
/** The log keeps at most this many events (4 MiB); older ones go. */
const LOG_MAX_EVENTS = 131_072

/** Records decoded; the ones that are not flow events say why in `bad`. */
function decodeRecords(buf: Buffer): {events: FlowEvent[]; bad: string[]} {
  const events: FlowEvent[] = []
  const bad: string[] = []
  for (let o = 0; o + FLOW_EVENT_SIZE <= buf.length; o += FLOW_EVENT_SIZE) {
    try {
      events.push(decodeFlowEvent(buf.subarray(o, o + FLOW_EVENT_SIZE)))
    } catch (err) {
      bad.push((err as Error).message)
    }
  }
  return {events, bad}
}

/** The last `n` events of the log (history from earlier readers). Bad records are skipped. */
export function loggedEvents(pinDir: string, n: number): FlowEvent[] {
  if (n <= 0 || !existsSync(flowLogPath(pinDir))) return []
  const size = statSync(flowLogPath(pinDir)).size
  const count = Math.min(n, Math.floor(size / FLOW_EVENT_SIZE))
  const fd = openSync(flowLogPath(pinDir), 'r')
  try {
    const buf = Buffer.alloc(count * FLOW_EVENT_SIZE)
    readSync(fd, buf, 0, buf.length, size - (size % FLOW_EVENT_SIZE) - buf.length)
    return decodeRecords(buf).events
  } finally {
    closeSync(fd)
  }
}

/** Where a follower starts: the end of the log as it is now (0 when there is none), on a record boundary. */
export function flowLogEnd(pinDir: string): number {
  const size = existsSync(flowLogPath(pinDir)) ? statSync(flowLogPath(pinDir)).size : 0
  return size - (size % FLOW_EVENT_SIZE)
}

/**
 * The records appended since `offset`, and the offset past them (a log that shrank was trimmed:
 * reading starts over from its end). Undefined when there is no log yet.
 */
export function readFlowLogFrom(
  pinDir: string,
  offset: number,
): {events: FlowEvent[]; bad: string[]; offset: number} | undefined {
  if (!existsSync(flowLogPath(pinDir))) return undefined
  const size = statSync(flowLogPath(pinDir)).size
  if (size < offset) offset = size - (size % FLOW_EVENT_SIZE) // trimmed
  const n = Math.floor((size - offset) / FLOW_EVENT_SIZE)
  if (n <= 0) return {events: [], bad: [], offset}
  const buf = Buffer.alloc(n * FLOW_EVENT_SIZE)
  const fd = openSync(flowLogPath(pinDir), 'r')
  try {
    readSync(fd, buf, 0, buf.length, offset)
  } finally {
    closeSync(fd)
  }
  return {...decodeRecords(buf), offset: offset + buf.length}
}

/** The owner's side of the log: each drained record appended, the log kept under LOG_MAX_EVENTS. */
export class FlowLogWriter {
  private readonly fd: number

  constructor(private readonly pinDir: string) {
    this.fd = openSync(flowLogPath(pinDir), 'a')
  }

  append(record: Buffer): void {
    writeSync(this.fd, record)
  }

  trim(): void {
    const size = statSync(flowLogPath(this.pinDir)).size
    if (size <= LOG_MAX_EVENTS * FLOW_EVENT_SIZE) return
    // Keep the newer half; followers notice the file shrank and start over from its end.
    const keep = Math.floor(LOG_MAX_EVENTS / 2) * FLOW_EVENT_SIZE
    const buf = Buffer.alloc(keep)
    const fd = openSync(flowLogPath(this.pinDir), 'r+')
    try {
      readSync(fd, buf, 0, keep, size - (size % FLOW_EVENT_SIZE) - keep)
      ftruncateSync(fd, 0)
      writeSync(fd, buf, 0, keep, 0)
    } finally {
      closeSync(fd)
    }
  }

  close(): void {
    closeSync(this.fd)
  }
}
