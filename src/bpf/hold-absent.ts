import {existsSync} from 'node:fs'
import {BpfObject} from './object.js'
import {toolObject} from './build.js'
import {mapDelete, mapDump, mapUpdate} from './map-ops.js'

// ebpfcni's hold on processes that found a file absent (bpf/tool/hold_absent.bpf.c): while armed, a
// stat() of a file under `dir` that answers ENOENT stops its process (SIGSTOP) before it runs on;
// release() resumes them (SIGCONT). Nothing is pinned: the programs and their links live as long as
// this object (and this process), and close() resumes whatever is still stopped.

const PREFIX_MAX = 128
const PATH_MAX_HELD = 128
const PROGRAMS = ['hold_enter_newfstatat', 'hold_exit_newfstatat', 'hold_enter_statx', 'hold_exit_statx']

export interface Held {
  pid: number
  /** The path its stat found absent. */
  path: string
}

export class AbsentHold {
  private readonly detach: Array<() => void> = []
  private readonly config: number
  private readonly held: number
  private closed = false
  private unloaded = false

  private constructor(
    private readonly obj: BpfObject,
    private readonly prefix: Buffer,
  ) {
    const fd = (name: string): number => {
      const f = obj.mapFd(name)
      if (f === undefined) throw new Error(`ebpfcni's hold program has no map ${name}`)
      return f
    }
    this.config = fd('hold_config')
    this.held = fd('hold_held')
  }

  /** Loaded and attached, not armed yet. `dir` is absolute; only files under it are held. */
  static async open(dir: string): Promise<AbsentHold> {
    const prefix = Buffer.from(`${dir.replace(/\/+$/, '')}/`)
    if (prefix.length >= PREFIX_MAX) throw new Error(`${dir} is too long for ebpfcni's hold (${PREFIX_MAX - 1} bytes)`)
    const obj = BpfObject.open(await toolObject('hold_absent', 'hold program'))
    const loaded = obj.load()
    if (!loaded.ok) {
      obj.close()
      throw new Error(`the kernel refused ebpfcni's hold program: ${loaded.log.slice(-300)}`)
    }
    const hold = new AbsentHold(obj, prefix)
    try {
      for (const p of PROGRAMS) hold.detach.push(obj.attach(p))
    } catch (e) {
      hold.close()
      // libbpf finds a tracepoint's id in tracefs.
      if (!existsSync('/sys/kernel/tracing/events') && !existsSync('/sys/kernel/debug/tracing/events'))
        throw new Error(
          'ebpfcni holds ADDs with syscall tracepoints, and tracefs is not mounted: mount -t tracefs tracefs /sys/kernel/tracing (or ebpfcni doctor --fix)',
        )
      throw e
    }
    return hold
  }

  /** Armed, a stat that finds a file absent stops its process; disarmed, nothing new is stopped. */
  arm(armed: boolean): void {
    const v = Buffer.alloc(8 + PREFIX_MAX)
    v.writeUInt32LE(armed ? 1 : 0, 0)
    v.writeUInt32LE(this.prefix.length, 4)
    this.prefix.copy(v, 8)
    mapUpdate(this.config, Buffer.alloc(4), v)
  }

  /** The processes stopped now, and where. */
  stopped(): Held[] {
    // Unloaded (an interrupt's cleanup closed it), it holds nothing, and its map is gone.
    if (this.unloaded) return []
    return mapDump(this.held).map(({key, value}) => {
      const path = value.subarray(8, 8 + PATH_MAX_HELD)
      const end = path.indexOf(0)
      return {pid: key.readUInt32LE(0), path: path.toString('utf8', 0, end < 0 ? path.length : end)}
    })
  }

  /** Disarm, then resume every stopped process. Returns those it resumed. */
  release(): Held[] {
    if (this.unloaded) return []
    this.arm(false)
    const out = this.stopped()
    for (const h of out) {
      try {
        process.kill(h.pid, 'SIGCONT')
      } catch {
        // Gone already (killed by its timeout): nothing to resume.
      }
      mapDelete(this.held, Buffer.from(new Uint32Array([h.pid]).buffer))
    }
    return out
  }

  /** Resume everything, detach, unload. Safe to call twice. */
  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.release()
    } finally {
      for (const d of this.detach.splice(0)) d()
      this.obj.close()
      this.unloaded = true
    }
  }
}
