import {existsSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {processStartTime} from '../host/processes.js'
import {RingReader, pinnedMapId} from '../bpf/ringbuf.js'
import {readCounterSlot} from '../bpf/counters.js'
import {decodeFlowEvent, FlowDecodeError, type FlowEvent} from '../bpf/flow-events.js'
import {claimRing, observeDir, releaseRing, ringOwner, writeRingOwner} from './ring-owner.js'
import {flowLogEnd, FlowLogWriter, readFlowLogFrom} from './flow-log.js'

// Where flow events come from. A BPF ring buffer has one consumer position: two readers would
// steal records from each other. So one process owns the ring (the first `observe`, or a check
// when none runs): it drains the ring into a log (flow-log.ts: raw 32-byte records, the history
// `--last` reads) and says in owner.json (ring-owner.ts) how far it has read. Every other reader follows the log: "attached
// through the owner". A reader that is gone (kill -9) is noticed by its pid, and replaced.

const DRAIN_MS = 20

export type FeedNotice = {kind: 'reloaded' | 'waiting' | 'skipped' | 'owner-gone'; message: string}

export interface FeedOptions {
  /** Where lab 4's program pins its maps (flow_events, flow_lost). */
  pinDir: string
  onEvent: (e: FlowEvent) => void
  onNotice?: (n: FeedNotice) => void
}

/** What the kernel's CLOCK_MONOTONIC reads now (process.hrtime is that clock on Linux). */
export const monotonicNs = (): bigint => process.hrtime.bigint()

/** Thrown when the program has no flow_events ring: it says what to load. */
export class NoRingError extends Error {}

const ringPath = (pinDir: string): string => join(pinDir, 'flow_events')

/** The ring's pin, or a NoRingError naming what is missing. */
export function ringPin(pinDir: string): string {
  const pin = ringPath(pinDir)
  if (!existsSync(pin))
    throw new NoRingError(
      `no flow_events ring is pinned at ${pin}: flow events come from lab 4's programs, which include ebpfcni_flow.h (in lab 4, load yours: ebpfcni bpf build && ebpfcni bpf load --replace; ebpfcni check 4 loads its own build)`,
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

/**
 * A live feed of flow events: the ring's owner if nobody else is, else a follower of the owner's
 * log. `drainNow()` hands over everything submitted up to this moment (an owner consumes the ring;
 * a follower waits until the owner has drained past now). stop() releases everything.
 */
export class FlowFeed {
  private reader?: RingReader
  private timer?: NodeJS.Timeout
  private log?: FlowLogWriter
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
      f.logOffset = flowLogEnd(o.pinDir)
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
      releaseRing(this.o.pinDir)
      throw err
    }
    this.log = new FlowLogWriter(this.o.pinDir)
    writeRingOwner(this.o.pinDir, this.startTime, 0n)
    this.timer = setInterval(() => this.tick(), DRAIN_MS)
  }

  private record(r: Buffer): void {
    this.log?.append(r)
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
    this.log?.trim()
    writeRingOwner(this.o.pinDir, this.startTime, now)
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

  private follow(): void {
    const read = readFlowLogFrom(this.o.pinDir, this.logOffset)
    if (!read) return
    this.logOffset = read.offset
    read.events.forEach((e) => this.o.onEvent(e))
    read.bad.forEach((b) => this.skip(b))
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
      this.log?.close()
      this.log = undefined
      if (ringOwner(this.o.pinDir)?.pid === process.pid) releaseRing(this.o.pinDir)
    }
  }
}

/**
 * What `body` can ask while it runs: every event so far, drained up to this moment; undefined
 * when no flow_events ring is pinned (nothing can be reported).
 */
export type EventsSoFar = () => Promise<FlowEvent[] | undefined>

/**
 * The flow events the ring pinned in `pinDir` took while `body` ran (what was there before is not
 * body's), and those lost meanwhile; through a running observe when there is one. No events: no
 * flow_events ring is pinned there. The checks quote what the datapath reported with it; a probe
 * reads them while it runs (`soFar`) to learn its own packets' fate as soon as it is reported.
 */
export async function eventsDuring<T>(
  pinDir: string,
  body: (soFar: EventsSoFar) => Promise<T>,
): Promise<{result: T; events?: FlowEvent[]; lost?: bigint}> {
  const events: FlowEvent[] = []
  let feed: FlowFeed | undefined
  try {
    feed = FlowFeed.start({pinDir, onEvent: (e) => events.push(e)})
    await feed.drainNow()
    events.length = 0
  } catch (err) {
    feed?.stop()
    if (err instanceof NoRingError) return {result: await body(async () => undefined)}
    throw err
  }
  const open = feed
  const soFar: EventsSoFar = async () => {
    await open.drainNow()
    return events
  }
  try {
    const result = await body(soFar)
    await feed.drainNow()
    return {result, events, lost: feed.lost()}
  } finally {
    feed.stop()
  }
}
