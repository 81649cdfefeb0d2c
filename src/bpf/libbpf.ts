import {createRequire} from 'node:module'
import {constants} from 'node:os'
import {readFileSync} from 'node:fs'

// The system's libbpf.so.1 (1.x) through koffi: object open/load with the verifier log,
// pinning, XDP attach/query, test runs, map operations. Loaded lazily: commands that
// never touch BPF (help, status) must not pay for it. No process is spawned on these paths.

const require = createRequire(import.meta.url)

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any
interface Koffi {
  decode(ptr: unknown, type: string, len: number): unknown
  load(name: string): {func(sig: string): Fn}
  struct(name: string, def: Record<string, string>): unknown
  sizeof(t: unknown): number
  errno(): number
}

interface Bindings {
  koffi: Koffi
  openOptsSize: number
  testOptsSize: number
  major: Fn
  minor: Fn
  setPrint: Fn
  openFile: Fn
  load: Fn
  close: Fn
  nextProgram: Fn
  nextMap: Fn
  programName: Fn
  programFd: Fn
  programPin: Fn
  mapName: Fn
  mapFd: Fn
  mapPin: Fn
  mapReuseFd: Fn
  mapSetPinPath: Fn
  mapType: Fn
  mapKeySize: Fn
  mapValueSize: Fn
  mapMaxEntries: Fn
  mapFlags: Fn
  programInsns: Fn
  programInsnCnt: Fn
  objGet: Fn
  objGetInfoByFd: Fn
  xdpAttach: Fn
  xdpDetach: Fn
  xdpQueryId: Fn
  testRun: Fn
  lookup: Fn
  update: Fn
  del: Fn
  nextKey: Fn
  lookupBatch: Fn
  closeFd: Fn
  tcHookCreate: Fn
  tcHookDestroy: Fn
  tcAttach: Fn
  tcDetach: Fn
  btfLoadById: Fn
  btfFree: Fn
  btfTypeById: Fn
  btfName: Fn
}

let bindings: Bindings | undefined

function b(): Bindings {
  if (bindings) return bindings
  const koffi = require('koffi') as Koffi
  const lib = koffi.load('libbpf.so.1')
  const libc = koffi.load('libc.so.6')
  // Layouts of libbpf 1.1's structs (x86_64 and arm64: 80 bytes each; natural alignment).
  const OpenOpts = koffi.struct('bpf_object_open_opts', {
    sz: 'size_t', object_name: 'const char*', relaxed_maps: 'bool', pin_root_path: 'const char*', _removed_attach_prog_fd: 'uint32_t',
    kconfig: 'const char*', btf_custom_path: 'const char*', kernel_log_buf: 'void*', kernel_log_size: 'size_t', kernel_log_level: 'uint32_t',
  })
  const TestOpts = koffi.struct('bpf_test_run_opts', {
    sz: 'size_t', data_in: 'void*', data_out: 'void*', data_size_in: 'uint32_t', data_size_out: 'uint32_t', ctx_in: 'void*', ctx_out: 'void*',
    ctx_size_in: 'uint32_t', ctx_size_out: 'uint32_t', retval: 'uint32_t', repeat: 'int', duration: 'uint32_t', flags: 'uint32_t', cpu: 'uint32_t', batch_size: 'uint32_t',
  })
  koffi.struct('bpf_map_batch_opts', {sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t'})
  koffi.struct('bpf_tc_hook', {sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t'})
  koffi.struct('bpf_tc_opts', {sz: 'size_t', prog_fd: 'int', flags: 'uint32_t', prog_id: 'uint32_t', handle: 'uint32_t', priority: 'uint32_t'})
  bindings = {
    koffi,
    openOptsSize: koffi.sizeof(OpenOpts),
    testOptsSize: koffi.sizeof(TestOpts),
    major: lib.func('uint32_t libbpf_major_version(void)'),
    minor: lib.func('uint32_t libbpf_minor_version(void)'),
    setPrint: lib.func('void* libbpf_set_print(void*)'),
    openFile: lib.func('void* bpf_object__open_file(const char*, const bpf_object_open_opts*)'),
    load: lib.func('int bpf_object__load(void*)'),
    close: lib.func('void bpf_object__close(void*)'),
    nextProgram: lib.func('void* bpf_object__next_program(void*, void*)'),
    nextMap: lib.func('void* bpf_object__next_map(void*, void*)'),
    programName: lib.func('const char* bpf_program__name(void*)'),
    programFd: lib.func('int bpf_program__fd(void*)'),
    programPin: lib.func('int bpf_program__pin(void*, const char*)'),
    mapName: lib.func('const char* bpf_map__name(void*)'),
    mapFd: lib.func('int bpf_map__fd(void*)'),
    mapPin: lib.func('int bpf_map__pin(void*, const char*)'),
    mapReuseFd: lib.func('int bpf_map__reuse_fd(void*, int)'),
    mapSetPinPath: lib.func('int bpf_map__set_pin_path(void*, const char*)'),
    mapType: lib.func('int bpf_map__type(void*)'),
    mapKeySize: lib.func('uint32_t bpf_map__key_size(void*)'),
    mapValueSize: lib.func('uint32_t bpf_map__value_size(void*)'),
    mapMaxEntries: lib.func('uint32_t bpf_map__max_entries(void*)'),
    mapFlags: lib.func('uint32_t bpf_map__map_flags(void*)'),
    programInsns: lib.func('const void* bpf_program__insns(void*)'),
    programInsnCnt: lib.func('size_t bpf_program__insn_cnt(void*)'),
    objGet: lib.func('int bpf_obj_get(const char*)'),
    objGetInfoByFd: lib.func('int bpf_obj_get_info_by_fd(int, void*, _Inout_ uint32_t*)'),
    xdpAttach: lib.func('int bpf_xdp_attach(int, int, uint32_t, void*)'),
    xdpDetach: lib.func('int bpf_xdp_detach(int, uint32_t, void*)'),
    xdpQueryId: lib.func('int bpf_xdp_query_id(int, int, _Out_ uint32_t*)'),
    testRun: lib.func('int bpf_prog_test_run_opts(int, _Inout_ bpf_test_run_opts*)'),
    lookup: lib.func('int bpf_map_lookup_elem(int, void*, void*)'),
    update: lib.func('int bpf_map_update_elem(int, void*, void*, uint64_t)'),
    del: lib.func('int bpf_map_delete_elem(int, void*)'),
    nextKey: lib.func('int bpf_map_get_next_key(int, void*, void*)'),
    lookupBatch: lib.func('int bpf_map_lookup_batch(int, void*, void*, void*, void*, _Inout_ uint32_t*, const bpf_map_batch_opts*)'),
    closeFd: libc.func('int close(int)'),
    tcHookCreate: lib.func('int bpf_tc_hook_create(bpf_tc_hook*)'),
    tcHookDestroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook*)'),
    tcAttach: lib.func('int bpf_tc_attach(const bpf_tc_hook*, _Inout_ bpf_tc_opts*)'),
    tcDetach: lib.func('int bpf_tc_detach(const bpf_tc_hook*, const bpf_tc_opts*)'),
    btfLoadById: lib.func('void* btf__load_from_kernel_by_id(uint32_t)'),
    btfFree: lib.func('void btf__free(void*)'),
    btfTypeById: lib.func('void* btf__type_by_id(void*, uint32_t)'),
    btfName: lib.func('const char* btf__name_by_offset(void*, uint32_t)'),
  }
  // libbpf's own messages go to stderr by default; the tool reports errors itself.
  bindings.setPrint(null)
  return bindings
}

export class BpfError extends Error {
  /** Set when the cause is the user's situation (nothing pinned yet, the wrong kind of object), not a bug. */
  userHint?: string

  constructor(readonly step: string, readonly errno: number, detail?: string, userHint?: string) {
    super(`${step}: ${errnoName(errno)}${detail ? ` — ${detail}` : ''}`)
    this.name = 'BpfError'
    this.userHint = userHint
  }
}

export function errnoName(errno: number): string {
  const e = Math.abs(errno)
  const name = Object.entries(constants.errno).find(([, v]) => v === e)?.[0]
  return name ? `${name} (${e})` : `errno ${e}`
}

/** libbpf 1.x returns -errno from its low-level calls. */
function check(step: string, rc: number): number {
  if (rc < 0) throw new BpfError(step, -rc)
  return rc
}

export function libbpf(): Bindings {
  return b()
}

export function libbpfVersion(): string {
  return `${b().major()}.${b().minor()}`
}

export const closeFd = (fd: number): void => void b().closeFd(fd)

export interface LoadedProgram {
  name: string
  fd: number
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
    obj.ptr = lib.openFile(path, {sz: lib.openOptsSize, pin_root_path: opts.pinRoot ?? null, kernel_log_buf: obj.logBuf, kernel_log_size: obj.logBuf.length, kernel_log_level: 0})
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
    for (let p = b().nextProgram(this.ptr, null); p; p = b().nextProgram(this.ptr, p)) out.push({name: b().programName(p), fd: b().programFd(p)})
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
  mapDefs(): Array<Pick<MapInfo, 'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags'>> {
    const out: Array<Pick<MapInfo, 'name' | 'type' | 'keySize' | 'valueSize' | 'maxEntries' | 'flags'>> = []
    for (let m = b().nextMap(this.ptr, null); m; m = b().nextMap(this.ptr, m)) {
      const name = b().mapName(m) as string
      if (name.includes('.')) continue
      out.push({name, type: b().mapType(m), keySize: b().mapKeySize(m), valueSize: b().mapValueSize(m), maxEntries: b().mapMaxEntries(m), flags: b().mapFlags(m)})
    }
    return out
  }

  pinProgram(name: string, path: string): void {
    for (let p = b().nextProgram(this.ptr, null); p; p = b().nextProgram(this.ptr, p)) {
      if (b().programName(p) === name) return void check(`pinning program ${name} at ${path}`, b().programPin(p, path))
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
    throw new BpfError(`nothing is pinned at ${path}`, -rc, undefined, 'build and load your program first: ebpfcni bpf build && ebpfcni bpf load (ebpfcni bpf maps lists what is pinned)')
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

/** enum bpf_prog_type value for XDP. */
export const PROG_TYPE_XDP = 6

export interface MapInfo {
  type: number
  id: number
  keySize: number
  valueSize: number
  maxEntries: number
  flags: number
  name: string
  /** BTF object id and the key/value type ids in it (0 when the map has no BTF). */
  btfId: number
  btfKeyTypeId: number
  btfValueTypeId: number
}

export function mapInfo(fd: number): MapInfo {
  const kind = objKind(fd)
  if (kind !== 'map') {
    const e = new BpfError('reading map info', constants.errno.EINVAL, `this pinned object is ${kind === 'program' ? 'a program, not a BPF map' : 'not a BPF map'}`)
    e.userHint = kind === 'program' ? 'name a map, not a program: ebpfcni bpf maps lists the pinned maps (ebpfcni bpf progs the programs)' : 'ebpfcni bpf maps lists the pinned maps'
    throw e
  }
  const buf = Buffer.alloc(96)
  const len = [buf.length]
  check('reading map info', b().objGetInfoByFd(fd, buf, len))
  const name = buf.toString('utf8', 24, 40)
  return {
    type: buf.readUInt32LE(0), id: buf.readUInt32LE(4), keySize: buf.readUInt32LE(8), valueSize: buf.readUInt32LE(12), maxEntries: buf.readUInt32LE(16), flags: buf.readUInt32LE(20),
    name: name.slice(0, Math.max(0, name.indexOf('\0'))) || name,
    // struct bpf_map_info: btf_id at 64, btf_key_type_id at 68, btf_value_type_id at 72.
    btfId: buf.readUInt32LE(64), btfKeyTypeId: buf.readUInt32LE(68), btfValueTypeId: buf.readUInt32LE(72),
  }
}

/** Per-CPU maps hold one value per possible CPU, each padded to 8 bytes. */
export const isPerCpu = (type: number): boolean => type === 5 || type === 6 || type === 10

let cpus: number | undefined
/** Possible CPUs (what the kernel sizes per-CPU values by), from /sys (e.g. "0-1"). */
export function possibleCpus(): number {
  if (cpus !== undefined) return cpus
  const text = readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim()
  cpus = text.split(',').reduce((n, part) => {
    const [a, z] = part.split('-').map(Number)
    return n + (z === undefined ? 1 : z - a + 1)
  }, 0)
  return cpus
}

/** Bytes a lookup of one value needs: value_size, or per CPU the padded size times CPUs. */
export function valueBufferSize(info: Pick<MapInfo, 'type' | 'valueSize'>): number {
  return isPerCpu(info.type) ? Math.ceil(info.valueSize / 8) * 8 * possibleCpus() : info.valueSize
}

/** A per-CPU value buffer cut into its per-CPU slots (each valueSize bytes long). */
export function perCpuSlots(value: Buffer, info: Pick<MapInfo, 'type' | 'valueSize'>): Buffer[] {
  const stride = valueBufferSize(info) / possibleCpus()
  return Array.from({length: possibleCpus()}, (_, i) => value.subarray(i * stride, i * stride + info.valueSize))
}

/** Kernel map type numbers (enum bpf_map_type) used by the labs. */
export const MAP_TYPES: Record<number, string> = {1: 'hash', 2: 'array', 5: 'percpu_hash', 6: 'percpu_array', 9: 'lru_hash', 10: 'lru_percpu_hash'}

export const XDP_FLAGS = {UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16} as const

export function xdpAttach(ifindex: number, progFd: number, flags: number): void {
  check(`attaching XDP to ifindex ${ifindex}`, b().xdpAttach(ifindex, progFd, flags, null))
}

export function xdpDetach(ifindex: number, flags: number): void {
  check(`detaching XDP from ifindex ${ifindex}`, b().xdpDetach(ifindex, flags, null))
}

/** The id of the XDP program attached in the given mode (0 when none). */
export function xdpQueryId(ifindex: number, flags: number): number {
  const out = [0]
  check(`querying XDP on ifindex ${ifindex}`, b().xdpQueryId(ifindex, flags, out))
  return out[0]
}

export type TcDirection = 'ingress' | 'egress'
const TC_POINT = {ingress: 1, egress: 2} as const
const TC_HOOK_SIZE = 24
const TC_OPTS_SIZE = 32

/**
 * Attach a TC (clsact) program: the clsact qdisc is created if missing (EEXIST is fine).
 * Returns the attached program id. On a pod's host veth, egress sees what goes to the pod.
 */
export function tcAttach(ifindex: number, direction: TcDirection, progFd: number, opts: {handle?: number; priority?: number; replace?: boolean} = {}): number {
  const hook = {sz: TC_HOOK_SIZE, ifindex, attach_point: TC_POINT[direction], parent: 0}
  const rc = b().tcHookCreate(hook) as number
  if (rc < 0 && rc !== -constants.errno.EEXIST) check(`creating the clsact hook on ifindex ${ifindex}`, rc)
  // BPF_TC_F_REPLACE: swap the program at this handle and priority in place (no gap without one).
  const o: Record<string, unknown> = {sz: TC_OPTS_SIZE, prog_fd: progFd, flags: opts.replace ? 1 : 0, prog_id: 0, handle: opts.handle ?? 1, priority: opts.priority ?? 1}
  check(`attaching TC ${direction} on ifindex ${ifindex}`, b().tcAttach(hook, o))
  return Number(o.prog_id)
}

export function tcDetach(ifindex: number, direction: TcDirection, opts: {handle?: number; priority?: number} = {}): void {
  const hook = {sz: TC_HOOK_SIZE, ifindex, attach_point: TC_POINT[direction], parent: 0}
  check(`detaching TC ${direction} on ifindex ${ifindex}`, b().tcDetach(hook, {sz: TC_OPTS_SIZE, prog_fd: 0, flags: 0, prog_id: 0, handle: opts.handle ?? 1, priority: opts.priority ?? 1}))
}

/** Remove the clsact qdisc (both directions) and everything attached to it. */
export function tcHookDestroy(ifindex: number): void {
  const rc = b().tcHookDestroy({sz: TC_HOOK_SIZE, ifindex, attach_point: TC_POINT.ingress | TC_POINT.egress, parent: 0}) as number
  if (rc < 0 && rc !== -constants.errno.ENOENT && rc !== -constants.errno.EINVAL) check(`removing clsact from ifindex ${ifindex}`, rc)
}

export const XDP_VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const
export const XDP_ACT = {ABORTED: 0, DROP: 1, PASS: 2} as const
export const xdpVerdictName = (n: number): string => XDP_VERDICTS[n] ?? `verdict ${n}`
/** A TC (sched_cls, direct-action) program's verdicts: linux/pkt_cls.h. */
export const TC_ACT = {UNSPEC: -1, OK: 0, SHOT: 2} as const
export const tcVerdictName = (n: number): string => (n === TC_ACT.OK ? 'TC_ACT_OK' : n === TC_ACT.SHOT ? 'TC_ACT_SHOT' : n === TC_ACT.UNSPEC || n === 0xffffffff ? 'TC_ACT_UNSPEC' : `verdict ${n}`)

/** Run a loaded program on one frame in the kernel (BPF_PROG_TEST_RUN); no interface needed. */
export function testRun(progFd: number, frame: Buffer, repeat = 1): {retval: number; durationNs: number} {
  const opts: Record<string, unknown> = {sz: b().testOptsSize, data_in: frame, data_size_in: frame.length, data_out: null, data_size_out: 0, repeat}
  check(`test-running the program on a ${frame.length}-byte frame`, b().testRun(progFd, opts))
  return {retval: Number(opts.retval), durationNs: Number(opts.duration)}
}

export function mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | undefined {
  const value = Buffer.alloc(valueSize)
  const rc = b().lookup(fd, key, value) as number
  if (rc === -constants.errno.ENOENT) return undefined
  check('map lookup', rc)
  return value
}

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags = 0): void {
  check('map update', b().update(fd, key, value, flags))
}

export function mapDelete(fd: number, key: Buffer): boolean {
  const rc = b().del(fd, key) as number
  if (rc === -constants.errno.ENOENT) return false
  check('map delete', rc)
  return true
}

/** Every key/value of a map: batch lookup where the kernel has it, else key iteration. */
export function mapDump(fd: number, info: MapInfo = mapInfo(fd)): Array<{key: Buffer; value: Buffer}> {
  const lib = b()
  const out: Array<{key: Buffer; value: Buffer}> = []
  const batch = Math.max(1, Math.min(info.maxEntries, 65536))
  const inBatch = Buffer.alloc(Math.max(info.keySize, 8))
  const outBatch = Buffer.alloc(Math.max(info.keySize, 8))
  let first = true
  for (;;) {
    // Fresh buffers per batch: entries are views into them, not per-entry copies. Unzeroed:
    // the kernel fills the first `count` entries, and only those are read.
    const keys = Buffer.allocUnsafe(batch * info.keySize)
    const stride = valueBufferSize(info)
    const values = Buffer.allocUnsafe(batch * stride)
    const count = [batch]
    const rc = lib.lookupBatch(fd, first ? null : inBatch, outBatch, keys, values, count, {sz: 24, elem_flags: 0n, flags: 0n}) as number
    if (rc < 0 && rc !== -constants.errno.ENOENT) {
      if (first && (rc === -constants.errno.EINVAL || rc === -constants.errno.ENOTSUP || rc === -524)) return mapDumpByIteration(fd, info)
      check('map batch lookup', rc)
    }
    for (let i = 0; i < count[0]; i++) {
      out.push({key: keys.subarray(i * info.keySize, (i + 1) * info.keySize), value: values.subarray(i * stride, (i + 1) * stride)})
    }
    if (rc === -constants.errno.ENOENT) return out
    outBatch.copy(inBatch)
    first = false
  }
}

function mapDumpByIteration(fd: number, info: MapInfo): Array<{key: Buffer; value: Buffer}> {
  const out: Array<{key: Buffer; value: Buffer}> = []
  let prev: Buffer | null = null
  for (;;) {
    const next = Buffer.alloc(info.keySize)
    if ((b().nextKey(fd, prev, next) as number) < 0) return out
    const value = mapLookup(fd, next, valueBufferSize(info))
    if (value) out.push({key: next, value})
    prev = next
  }
}
