import {closeFd, ffi, BpfError} from './ffi.js'
import {mapInfo} from './map-ops.js'
import {objGet} from './object.js'

// A BPF ring buffer (BPF_MAP_TYPE_RINGBUF) read through libbpf's ring_buffer__new and
// ring_buffer__consume, with a koffi callback per record. bpftool 7.1 cannot read one. Records are
// copied out during the callback: the memory is the kernel's ring, reused once consumed.
// Consuming never blocks: the caller decides when (a timer), so Node's event loop keeps running.

export const MAP_TYPE_RINGBUF = 27

export class RingReader {
  private constructor(
    private readonly rb: unknown,
    private readonly fd: number,
    private readonly callback: unknown,
    /** The map's kernel id: a reloaded program with a new ring has another. */
    readonly mapId: number,
  ) {}

  /** Open the ring pinned at `pin`; `onRecord` gets each record's bytes (a copy). */
  static open(pin: string, onRecord: (record: Buffer) => void): RingReader {
    return RingReader.fromFd(objGet(pin), onRecord, pin, true)
  }

  /** Read the ring behind `fd` (closed with the reader when `owned`); `pin` names it in errors. */
  static fromFd(fd: number, onRecord: (record: Buffer) => void, pin = `map fd ${fd}`, owned = false): RingReader {
    const b = ffi()
    try {
      const info = mapInfo(fd)
      if (info.type !== MAP_TYPE_RINGBUF)
        throw new BpfError(
          `opening ${pin} as a ring buffer`,
          22,
          `it is a map of type ${info.type}, not BPF_MAP_TYPE_RINGBUF (27)`,
          'declare flow_events with __uint(type, BPF_MAP_TYPE_RINGBUF): include ebpfcni_flow.h',
        )
      const callback = b.koffi.register((_ctx: unknown, data: unknown, size: number | bigint): number => {
        onRecord(Buffer.from(new Uint8Array(b.koffi.view(data, Number(size))).slice()))
        return 0
      }, b.ringSampleFn)
      const rb = b.ringNew(fd, callback, null, null)
      if (!rb) {
        b.koffi.unregister(callback)
        throw new BpfError(`creating a ring buffer reader on ${pin}`, 22)
      }
      return new RingReader(rb, owned ? fd : -1, callback, info.id)
    } catch (err) {
      if (owned) closeFd(fd)
      throw err
    }
  }

  /** Hand every record the ring holds now to the callback; how many there were. */
  consume(): number {
    const n = Number(ffi().ringConsume(this.rb))
    if (n < 0) throw new BpfError('reading the ring buffer', -n)
    return n
  }

  close(): void {
    const b = ffi()
    b.ringFree(this.rb)
    b.koffi.unregister(this.callback as Parameters<typeof b.koffi.unregister>[0])
    if (this.fd >= 0) closeFd(this.fd)
  }
}

/** A pinned map's kernel id (to notice that a reload replaced it), or undefined when nothing is pinned. */
export function pinnedMapId(pin: string): number | undefined {
  let fd: number
  try {
    fd = objGet(pin)
  } catch {
    return undefined
  }
  try {
    return mapInfo(fd).id
  } finally {
    closeFd(fd)
  }
}
