import {constants} from 'node:os'
import {readFileSync} from 'node:fs'
import {BpfError, check, ffi} from './ffi.js'

// BPF objects and programs: open and load an object file (with the verifier's log), its
// programs and maps, pins, and running a loaded program on one frame (BPF_PROG_TEST_RUN).

const b = ffi

export interface LoadedProgram {
  name: string
  fd: number
}
/** A map as the object file declares it (what the kernel will be asked to create). */
export interface MapDef {
  name: string
  type: number
  keySize: number
  valueSize: number
  maxEntries: number
  flags: number
}
export interface LoadedMap {
  name: string
  fd: number
}

/** An opened (and after load(), loaded) BPF object file. close() releases everything not pinned. */
export class BpfObject {
  // The kernel writes the verifier log here during load(); it must outlive open().
  private readonly logBuf = Buffer.alloc(4 * 1024 * 1024)
  private ptr: unknown

  private constructor(readonly path: string) {}

  /**
   * Open an object file. With pinRoot, maps declared LIBBPF_PIN_BY_NAME are pinned (or
   * reused) there on load; without it, nothing touches bpffs (such pin paths are cleared).
   */
  static open(path: string, opts: {pinRoot?: string} = {}): BpfObject {
    const lib = b()
    const obj = new BpfObject(path)
    obj.ptr = lib.openFile(path, {
      sz: lib.structs.openOpts.size,
      pin_root_path: opts.pinRoot ?? null,
      kernel_log_buf: obj.logBuf,
      kernel_log_size: obj.logBuf.length,
      kernel_log_level: 0,
    })
    if (!obj.ptr) throw new BpfError(`opening ${path}`, lib.koffi.errno())
    if (!opts.pinRoot) {
      for (let m = lib.nextMap(obj.ptr, null); m; m = lib.nextMap(obj.ptr, m)) lib.mapSetPinPath(m, null)
    }
    return obj
  }

  /** Load into the kernel. On failure, the verifier's log is returned (not thrown). */
  load(): {ok: true} | {ok: false; errno: number; log: string} {
    const rc = b().load(this.ptr) as number
    if (rc === 0) return {ok: true}
    const end = this.logBuf.indexOf(0)
    return {ok: false, errno: -rc, log: this.logBuf.toString('utf8', 0, end < 0 ? this.logBuf.length : end)}
  }

  programs(): LoadedProgram[] {
    const out: LoadedProgram[] = []
    for (let p = b().nextProgram(this.ptr, null); p; p = b().nextProgram(this.ptr, p))
      out.push({name: b().programName(p), fd: b().programFd(p)})
    return out
  }

  maps(): LoadedMap[] {
    const out: LoadedMap[] = []
    // .rodata/.bss/.data maps are libbpf's internals, not the lab's maps.
    for (let m = b().nextMap(this.ptr, null); m; m = b().nextMap(this.ptr, m)) {
      const name = b().mapName(m) as string
      if (!name.includes('.')) out.push({name, fd: b().mapFd(m)})
    }
    return out
  }

  /** A loaded map's fd by its libbpf name, internal ones (NAME.bss, .data.NAME) included; undefined when absent. */
  mapFd(name: string): number | undefined {
    for (let m = b().nextMap(this.ptr, null); m; m = b().nextMap(this.ptr, m))
      if (b().mapName(m) === name) return b().mapFd(m) as number
    return undefined
  }

  /** Before load(): use an existing (pinned) map instead of creating this one. */
  reuseMap(name: string, fd: number): void {
    for (let m = b().nextMap(this.ptr, null); m; m = b().nextMap(this.ptr, m)) {
      if (b().mapName(m) === name) return void check(`reusing the pinned map ${name}`, b().mapReuseFd(m, fd))
    }
    throw new Error(`no map named ${name} in ${this.path}`)
  }

  /** A program's instructions as compiled (8 bytes each), read before load. */
  instructions(name: string): Buffer {
    for (let p = b().nextProgram(this.ptr, null); p; p = b().nextProgram(this.ptr, p)) {
      if (b().programName(p) !== name) continue
      const count = Number(b().programInsnCnt(p))
      const bytes = b().koffi.decode(b().programInsns(p), 'uint8_t', count * 8) as number[]
      return Buffer.from(bytes)
    }
    throw new Error(`no program named ${name} in ${this.path}`)
  }

  /** Map definitions as compiled (before load: no kernel object yet). */
  mapDefs(): MapDef[] {
    const out: MapDef[] = []
    for (let m = b().nextMap(this.ptr, null); m; m = b().nextMap(this.ptr, m)) {
      const name = b().mapName(m) as string
      if (name.includes('.')) continue
      out.push({
        name,
        type: b().mapType(m),
        keySize: b().mapKeySize(m),
        valueSize: b().mapValueSize(m),
        maxEntries: b().mapMaxEntries(m),
        flags: b().mapFlags(m),
      })
    }
    return out
  }

  pinProgram(name: string, path: string): void {
    for (let p = b().nextProgram(this.ptr, null); p; p = b().nextProgram(this.ptr, p)) {
      if (b().programName(p) === name) return void check(`pinning program ${name} at ${path}`, b().programPin(p, path))
    }
    throw new Error(`no program named ${name} in ${this.path}`)
  }

  /**
   * Attach a loaded program where its section says (tp_btf/..., raw_tp/...): the link lives until
   * the returned function is called or this process ends (nothing is pinned).
   */
  attach(name: string): () => void {
    for (let p = b().nextProgram(this.ptr, null); p; p = b().nextProgram(this.ptr, p)) {
      if (b().programName(p) !== name) continue
      const link = b().programAttach(p)
      if (!link) throw new BpfError(`attaching program ${name}`, b().koffi.errno())
      let attached = true
      return () => {
        if (attached) b().linkDestroy(link)
        attached = false
      }
    }
    throw new Error(`no program named ${name} in ${this.path}`)
  }

  pinMap(name: string, path: string): void {
    for (let m = b().nextMap(this.ptr, null); m; m = b().nextMap(this.ptr, m)) {
      if (b().mapName(m) === name) return void check(`pinning map ${name} at ${path}`, b().mapPin(m, path))
    }
    throw new Error(`no map named ${name} in ${this.path}`)
  }

  close(): void {
    b().close(this.ptr)
  }
}

/** Open a pinned program or map; the caller closes the fd. */
export function objGet(path: string): number {
  const rc = b().objGet(path)
  if (rc >= 0) return rc
  if (-rc === constants.errno.ENOENT) {
    const e = new BpfError(`nothing is pinned at ${path}`, -rc, undefined, '')
    e.userNext = {do: 'load-program'}
    throw e
  }
  return check(`opening pinned object ${path}`, rc)
}

/** Whether an fd from objGet is a map or a program: the kernel's fdinfo says (map_type / prog_type). */
export function objKind(fd: number): 'map' | 'program' | 'other' {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
  return /^map_type:/m.test(info) ? 'map' : /^prog_type:/m.test(info) ? 'program' : 'other'
}

/** A program's id, tag (hash of its instructions) and type, from the kernel's fdinfo. */
export function progInfo(fd: number): {id: number; tag: string; type: number} {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
  const field = (k: string): string => new RegExp(`^${k}:\\s*(\\S+)`, 'm').exec(info)?.[1] ?? ''
  if (!field('prog_type')) throw new Error('not a BPF program')
  return {id: Number(field('prog_id')), tag: field('prog_tag'), type: Number(field('prog_type'))}
}

/** enum bpf_prog_type values the labs load. */
export const PROG_TYPE = {SCHED_CLS: 3, XDP: 6} as const

/** Run a loaded program on one frame in the kernel (BPF_PROG_TEST_RUN); no interface needed. */
export function testRun(progFd: number, frame: Buffer, repeat = 1): {retval: number; durationNs: number} {
  const opts: Record<string, unknown> = {
    sz: b().structs.testOpts.size,
    data_in: frame,
    data_size_in: frame.length,
    data_out: null,
    data_size_out: 0,
    repeat,
  }
  check(`test-running the program on a ${frame.length}-byte frame`, b().testRun(progFd, opts))
  return {retval: Number(opts.retval), durationNs: Number(opts.duration)}
}

/** The same, returning the frame as the program left it (its rewrites: an XDP_TX, a load balancer's new destination). */
export function testRunFrame(progFd: number, frame: Buffer): {retval: number; frame: Buffer} {
  const out = Buffer.alloc(frame.length + 256)
  const opts: Record<string, unknown> = {
    sz: b().structs.testOpts.size,
    data_in: frame,
    data_size_in: frame.length,
    data_out: out,
    data_size_out: out.length,
    repeat: 1,
  }
  check(`test-running the program on a ${frame.length}-byte frame`, b().testRun(progFd, opts))
  return {retval: Number(opts.retval), frame: out.subarray(0, Number(opts.data_size_out))}
}
