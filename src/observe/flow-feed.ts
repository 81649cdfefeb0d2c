import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import {join} from 'node:path'
import {stateDir} from '../host/paths.js'
import {processAlive, processStartTime} from '../host/processes.js'
import {RingReader, pinnedMapId} from '../bpf/ringbuf.js'
import {readCounterSlot} from '../bpf/counters.js'
import {decodeFlowEvent, FLOW_EVENT_SIZE, FlowDecodeError, type FlowEvent} from '../bpf/flow-events.js'

// Where flow events come from. A BPF ring buffer has one consumer position: two readers would
// steal records from each other. So one process owns the ring (the first `observe`, or a check
// when none runs): it drains the ring into a log (raw 32-byte records, the history `--last` reads)
// and says in owner.json how far it has read. Every other reader follows the log: "attached
// through the owner". A reader that is gone (kill -9) is noticed by its pid, and replaced.

/** One folder per pin dir: a ring, its owner and its log belong together. */
export const observeDir = (pinDir: string): string =>
  join(stateDir(), 'observe', pinDir.replace(/^\/sys\/fs\/bpf\/?/, '').replace(/[^\w.-]+/g, '_') || 'bpffs')
const ownerPath = (pinDir: string): string => join(observeDir(pinDir), 'owner.json')
export const flowLogPath = (pinDir: string): string => join(observeDir(pinDir), 'flows.bin')
/** The log keeps at most this many events (4 MiB); older ones go. */
const LOG_MAX_EVENTS = 131_072
const DRAIN_MS = 20

interface OwnerState {
  pid: number
  startTime?: number
  /** CLOCK_MONOTONIC ns (the clock bpf_ktime_get_ns reads) when the owner last emptied the ring. */
  drainedNs: string
}

export type FeedNotice = {kind: 'reloaded' | 'waiting' | 'skipped' | 'owner-gone'; message: string}

export interface FeedOptions {
  /** Where lab 4's program pins its maps (flow_events, flow_lost). */
  pinDir: string
  onEvent: (e: FlowEvent) => void
  onNotice?: (n: FeedNotice) => void
}

/** What the kernel's CLOCK_MONOTONIC reads now (process.hrtime is that clock on Linux). */
export const monotonicNs = (): bigint => process.hrtime.bigint()

/** The process that owns the ring now, if it is alive. */
export function ringOwner(pinDir: string): OwnerState | undefined {
  try {
    const o = JSON.parse(readFileSync(ownerPath(pinDir), 'utf8')) as OwnerState
    return processAlive(o.pid, o.startTime) ? o : undefined
  } catch {
    return undefined
  }
}

/**
 * Become the ring's owner unless a live process is: owner.json made with O_EXCL, so two readers
 * starting at once cannot both own it; a dead owner's file is taken over.
 */
function claimRing(pinDir: string): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      closeSync(openSync(ownerPath(pinDir), 'wx'))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const raw = (() => {
        try {
          return readFileSync(ownerPath(pinDir), 'utf8')
        } catch {
          return undefined
        }
      })()
      // Empty: another reader between its create and its first write: it owns the ring.
      if (raw === '' && Date.now() - statSync(ownerPath(pinDir)).mtimeMs < 2000) return false
      if (ringOwner(pinDir)) return false
      rmSync(ownerPath(pinDir), {force: true})
    }
  }
  return false
}

/** Thrown when the program has no flow_events ring: it says what to load. */
export class NoRingError extends Error {}

const ringPath = (pinDir: string): string => join(pinDir, 'flow_events')

/** The ring's pin, or a NoRingError naming what is missing. */
export function ringPin(pinDir: string): string {
  const pin = ringPath(pinDir)
  if (!existsSync(pin))
    throw new NoRingError(
      `no flow_events ring is pinned at ${pin}: flow events come from lab 4's programs, which include ebpfcni_flow.h (ebpfcni lab 4 builds and loads them; ebpfcni bpf load does it by hand)`,
    )
  return pin
}

/** Events lost so far: the ring had no room (flow_lost, summed over CPUs); 0n when there is no counter. */
export function lostSoFar(pinDir: string): bigint {
  const pin = join(pinDir, 'flow_lost')
  try {
    return existsSync(pin) ? readCounterSlot(pin) : 0n
  } catch {
    return 0n
  }
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
    return decodeAll(buf).events
  } finally {
    closeSync(fd)
  }
}

function decodeAll(buf: Buffer): {events: FlowEvent[]; bad: string[]} {
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

/**
 * A live feed of flow events: the ring's owner if nobody else is, else a follower of the owner's
 * log. `drainNow()` hands over everything submitted up to this moment (an owner consumes the ring;
 * a follower waits until the owner has drained past now). stop() releases everything.
 */
export class FlowFeed {
  private reader?: RingReader
  private timer?: NodeJS.Timeout
  private logFd?: number
  private logOffset = 0
  private skipped = 0
  private lastSkip = ''
  /** This process's start time, for owner.json: with the pid it tells a reused pid from the owner. */
  private readonly startTime = processStartTime(process.pid)
  /** Lost events when the feed started: what it reports is the growth since. */
  readonly lostAtStart: bigint

  private constructor(
    private readonly o: FeedOptions,
    /** A follower becomes the owner when the owner goes away. */
    public mode: 'owner' | 'follower',
  ) {
    this.lostAtStart = lostSoFar(o.pinDir)
  }

  /** Start reading. Throws NoRingError when no ring is pinned (unless the owner is already reading one). */
  static start(o: FeedOptions): FlowFeed {
    mkdirSync(observeDir(o.pinDir), {recursive: true})
    if (!claimRing(o.pinDir)) {
      const f = new FlowFeed(o, 'follower')
      f.logOffset = existsSync(flowLogPath(o.pinDir)) ? statSync(flowLogPath(o.pinDir)).size : 0
      f.logOffset -= f.logOffset % FLOW_EVENT_SIZE
      f.timer = setInterval(() => f.follow(), DRAIN_MS)
      return f
    }
    const f = new FlowFeed(o, 'owner')
    f.becomeOwner()
    return f
  }

  /** The owner process followed, when this feed is a follower. */
  ownerPid(): number | undefined {
    return this.mode === 'owner' ? process.pid : ringOwner(this.o.pinDir)?.pid
  }

  /** Events lost since the feed started. */
  lost(): bigint {
    return lostSoFar(this.o.pinDir) - this.lostAtStart
  }

  private becomeOwner(): void {
    try {
      this.reader = RingReader.open(ringPin(this.o.pinDir), (r) => this.record(r))
    } catch (err) {
      rmSync(ownerPath(this.o.pinDir), {force: true})
      throw err
    }
    this.logFd = openSync(flowLogPath(this.o.pinDir), 'a')
    this.writeOwner(0n)
    this.timer = setInterval(() => this.tick(), DRAIN_MS)
  }

  private writeOwner(drainedNs: bigint): void {
    const state: OwnerState = {pid: process.pid, startTime: this.startTime, drainedNs: String(drainedNs)}
    const tmp = `${ownerPath(this.o.pinDir)}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(state))
    renameSync(tmp, ownerPath(this.o.pinDir))
  }

  private record(r: Buffer): void {
    if (this.logFd !== undefined) writeSync(this.logFd, r)
    try {
      this.o.onEvent(decodeFlowEvent(r))
    } catch (err) {
      if (!(err instanceof FlowDecodeError)) throw err
      this.skip(err.message)
    }
  }

  private skip(why: string): void {
    this.skipped++
    if (why !== this.lastSkip || this.skipped % 1000 === 1)
      this.o.onNotice?.({
        kind: 'skipped',
        message: `skipped ${this.skipped} record(s) that are not flow events: ${why}`,
      })
    this.lastSkip = why
  }

  private ticks = 0
  private tick(): void {
    try {
      this.drainOwned()
      // Once a second: a reload pins a new ring; follow it.
      if (++this.ticks % 50 === 0) this.followReload()
    } catch (err) {
      this.o.onNotice?.({kind: 'waiting', message: (err as Error).message})
    }
  }

  private drainOwned(): void {
    if (!this.reader) return
    const now = monotonicNs()
    this.reader.consume()
    this.trimLog()
    this.writeOwner(now)
  }

  private followReload(): void {
    const pin = ringPath(this.o.pinDir)
    const id = pinnedMapId(pin)
    if (this.reader && id === this.reader.mapId) return
    if (id === undefined) {
      if (this.reader) {
        this.reader.close()
        this.reader = undefined
        this.o.onNotice?.({
          kind: 'waiting',
          message: `${pin} is gone (the program was unloaded or reset): waiting for it to come back`,
        })
      }
      return
    }
    this.reader?.close()
    this.reader = RingReader.open(pin, (r) => this.record(r))
    this.o.onNotice?.({kind: 'reloaded', message: 'the program was reloaded: reading its new flow_events ring'})
  }

  private trimLog(): void {
    if (this.logFd === undefined) return
    const size = statSync(flowLogPath(this.o.pinDir)).size
    if (size <= LOG_MAX_EVENTS * FLOW_EVENT_SIZE) return
    // Keep the newer half; followers notice the file shrank and start over from its end.
    const keep = Math.floor(LOG_MAX_EVENTS / 2) * FLOW_EVENT_SIZE
    const buf = Buffer.alloc(keep)
    const fd = openSync(flowLogPath(this.o.pinDir), 'r+')
    try {
      readSync(fd, buf, 0, keep, size - (size % FLOW_EVENT_SIZE) - keep)
      ftruncateSync(fd, 0)
      writeSync(fd, buf, 0, keep, 0)
    } finally {
      closeSync(fd)
    }
  }

  private follow(): void {
    if (!existsSync(flowLogPath(this.o.pinDir))) return
    const size = statSync(flowLogPath(this.o.pinDir)).size
    if (size < this.logOffset) this.logOffset = size - (size % FLOW_EVENT_SIZE) // trimmed
    const n = Math.floor((size - this.logOffset) / FLOW_EVENT_SIZE)
    if (n > 0) {
      const buf = Buffer.alloc(n * FLOW_EVENT_SIZE)
      const fd = openSync(flowLogPath(this.o.pinDir), 'r')
      try {
        readSync(fd, buf, 0, buf.length, this.logOffset)
      } finally {
        closeSync(fd)
      }
      this.logOffset += buf.length
      const {events, bad} = decodeAll(buf)
      events.forEach((e) => this.o.onEvent(e))
      bad.forEach((b) => this.skip(b))
    }
    if (!ringOwner(this.o.pinDir) && claimRing(this.o.pinDir)) {
      // The owner went away: take the ring over, so events keep coming.
      clearInterval(this.timer)
      this.o.onNotice?.({kind: 'owner-gone', message: 'the observe that owned the ring stopped: reading it here now'})
      this.mode = 'owner'
      this.becomeOwner()
    }
  }

  /**
   * Hand over every event submitted before this call. An owner consumes the ring at once; a
   * follower waits until the owner has drained past this moment. `patienceMs` bounds the wait
   * for an owner that stopped reading (Ctrl-Z): then it throws, saying so.
   */
  async drainNow(patienceMs = 5000): Promise<void> {
    if (this.mode === 'owner') {
      this.drainOwned()
      return
    }
    const since = monotonicNs()
    const deadline = Date.now() + patienceMs
    for (;;) {
      const o = ringOwner(this.o.pinDir)
      if (!o || BigInt(o.drainedNs) >= since) break
      if (Date.now() > deadline)
        throw new Error(
          `observe (pid ${o.pid}) owns the flow ring but has not read it for ${patienceMs / 1000} s (stopped with Ctrl-Z?): resume it (fg) or end it`,
        )
      await new Promise((r) => setTimeout(r, DRAIN_MS))
    }
    this.follow()
  }

  stop(): void {
    clearInterval(this.timer)
    if (this.mode === 'owner') {
      try {
        this.reader?.consume()
      } catch {
        /* a ring that went away holds nothing more */
      }
      this.reader?.close()
      this.reader = undefined
      if (this.logFd !== undefined) closeSync(this.logFd)
      this.logFd = undefined
      if (ringOwner(this.o.pinDir)?.pid === process.pid) rmSync(ownerPath(this.o.pinDir), {force: true})
    }
  }
}
