import {toolObject} from './build.js'
import {DropReasons} from './drop-reasons.js'
import {decodePacketFields, encodePacketFields, type PacketFields} from './flow-events.js'
import {mapDelete, mapDump, mapInfo, mapUpdate} from './map-ops.js'
import {counterValue} from './counters.js'
import {BpfObject} from './object.js'
import {RingReader} from './ringbuf.js'

// ebpfcni's kernel-drop tracer (bpf/tool/kernel_drops.bpf.c on skb:kfree_skb): loaded, told which
// namespaces and interfaces are the lab's, and read. Its events are 40 bytes: the flow event's
// addresses and ports, then the kernel's drop reason (decoded with the running kernel's BTF) and
// the namespace. Nothing is pinned: program, link and maps go when stop() is called or the
// process ends, however it ends.

export const KDROP_EVENT_SIZE = 40
export const KDROP_EVENT_VERSION = 1

/** One packet the kernel dropped, as the tracer saw it (ifindex 0: on no device yet, e.g. dropped before routing). */
export interface KernelDrop extends PacketFields {
  /** The network namespace's inode number. */
  netns: number
  /** The kernel's name for the reason ("NEIGH_FAILED"), or "unknown reason N" for a number this kernel does not list. */
  reason: string
  reasonId: number
  known: boolean
}

/** Thrown for a record that is not kernel_drops.bpf.c's: it says what arrived. */
export class KernelDropDecodeError extends Error {}

export function decodeKernelDrop(b: Buffer, reasons: DropReasons): KernelDrop {
  if (b.length !== KDROP_EVENT_SIZE)
    throw new KernelDropDecodeError(
      `a kernel-drop event of ${b.length} bytes: kernel_drops.bpf.c writes ${KDROP_EVENT_SIZE}`,
    )
  if (b[36] !== KDROP_EVENT_VERSION)
    throw new KernelDropDecodeError(
      `a kernel-drop event of version ${b[36]}: this ebpfcni reads ${KDROP_EVENT_VERSION}`,
    )
  // A drop before the IP header was read has no addresses: then it is named by its ethertype.
  const ipv4 = b.readUInt16BE(24) === 0x0800 && b.readUInt32BE(8) !== 0
  const reasonId = b.readUInt32LE(28)
  return {
    ...decodePacketFields(b, ipv4),
    netns: b.readUInt32LE(32),
    reason: reasons.name(reasonId),
    reasonId,
    known: reasons.known(reasonId),
  }
}

/** A struct kdrop_event as the tracer writes it (the decoder's test and the benchmark). */
export function encodeKernelDrop(e: {
  tsNs?: bigint
  src?: string
  dst?: string
  sport?: number
  dport?: number
  ipProto?: number
  ifindex?: number
  netns?: number
  reason: number
}): Buffer {
  const b = Buffer.alloc(KDROP_EVENT_SIZE)
  encodePacketFields(b, e, {ethProto: 0x0800, ipProto: e.ipProto ?? 17})
  b.writeUInt32LE(e.reason, 28)
  b.writeUInt32LE(e.netns ?? 0, 32)
  b[36] = KDROP_EVENT_VERSION
  return b
}

/** Where the tracer reports: a whole namespace (ifindex 0) or one interface of it. */
export interface DropScope {
  netns: number
  ifindex: number
}
const scopeKey = (s: DropScope): Buffer => {
  const k = Buffer.alloc(8)
  k.writeUInt32LE(s.netns, 0)
  k.writeUInt32LE(s.ifindex, 4)
  return k
}

/** The running kernel's reasons; throws, saying why, where it has none. */
function kernelReasons(): DropReasons {
  const r = DropReasons.ofKernel()
  if ('problem' in r) throw new Error(r.problem)
  return r.reasons
}

/** The loaded, attached tracer. */
export class KernelDropTracer {
  private reader?: RingReader
  private detach?: () => void
  private scopes = new Map<string, DropScope>()
  private closed = false

  private constructor(
    private readonly obj: BpfObject,
    readonly reasons: DropReasons,
    private readonly fds: Record<'where' | 'config' | 'events' | 'lost', number>,
  ) {}

  /**
   * Build, load and attach the tracer; `onDrop` gets each drop in the scopes set with
   * setScopes(). Throws, saying why, where the kernel cannot (no BTF, no drop reasons).
   */
  static async start(
    onDrop: (d: KernelDrop) => void,
    onBad: (why: string) => void,
    reasons?: DropReasons,
    /** Tests: report QUEUE_PURGE too (to prove a purge happened where observe shows none). */
    opts: {showPurges?: boolean} = {},
  ): Promise<KernelDropTracer> {
    const known = reasons ?? kernelReasons()
    const obj = BpfObject.open(await toolObject('kernel_drops', 'kernel-drop tracer'))
    const loaded = obj.load()
    if (!loaded.ok) {
      obj.close()
      throw new Error(
        `the kernel refused ebpfcni's kernel-drop tracer (tp_btf/kfree_skb needs a kernel with BTF): ${loaded.log.split('\n').slice(-3).join(' | ') || `errno ${loaded.errno}`}`,
      )
    }
    const fd = (name: string) => obj.maps().find((m) => m.name === name)!.fd
    const t = new KernelDropTracer(obj, known, {
      where: fd('kdrop_where'),
      config: fd('kdrop_config'),
      events: fd('kdrop_events'),
      lost: fd('kdrop_lost'),
    })
    try {
      // struct kdrop_config: the two frees that are not drops, then NOT_SPECIFIED, NO_SOCKET and
      // QUEUE_PURGE (-1: none on this kernel).
      const skip = Buffer.alloc(20)
      known.notDrops().forEach((n, i) => skip.writeUInt32LE(n, i * 4))
      skip.writeUInt32LE(known.id('NOT_SPECIFIED') >>> 0, 8)
      skip.writeUInt32LE(known.id('NO_SOCKET') >>> 0, 12)
      skip.writeUInt32LE((opts.showPurges ? -1 : known.id('QUEUE_PURGE')) >>> 0, 16)
      mapUpdate(t.fds.config, Buffer.alloc(4), skip)
      t.reader = RingReader.fromFd(t.fds.events, (r) => {
        try {
          onDrop(decodeKernelDrop(r, known))
        } catch (err) {
          if (!(err instanceof KernelDropDecodeError)) throw err
          onBad(err.message)
        }
      })
      t.detach = obj.attach('kernel_drops')
    } catch (err) {
      t.stop()
      throw err
    }
    return t
  }

  /** Report drops in exactly these namespaces and interfaces from now on. */
  setScopes(scopes: DropScope[]): void {
    const next = new Map(scopes.map((s) => [`${s.netns}/${s.ifindex}`, s]))
    for (const [k, s] of this.scopes) if (!next.has(k)) mapDelete(this.fds.where, scopeKey(s))
    for (const [k, s] of next) if (!this.scopes.has(k)) mapUpdate(this.fds.where, scopeKey(s), Buffer.from([1]))
    this.scopes = next
  }

  /** Hand over every drop recorded so far. */
  consume(): number {
    return this.reader?.consume() ?? 0
  }

  /** Drops the ring had no room for (it was full), since the tracer started. */
  lost(): bigint {
    const info = mapInfo(this.fds.lost)
    return mapDump(this.fds.lost, info).reduce((a, {value}) => a + counterValue(value, info), 0n)
  }

  /** Detach and unload: nothing stays in the kernel. */
  stop(): void {
    this.detach?.()
    this.detach = undefined
    this.reader?.close()
    this.reader = undefined
    if (!this.closed) this.obj.close()
    this.closed = true
  }
}
