import {createRequire} from 'node:module'
import {constants} from 'node:os'
import type * as KoffiModule from 'koffi'
import type {NextStep} from '../host/errors.js'

// The system's libbpf.so.1 (1.x) through koffi: the C declarations, and the structs whose
// sizes and offsets the other bpf/ files take from here (koffi.sizeof / offsetof, never typed
// by hand). Loaded lazily: commands that never touch BPF (help, status) must not pay for it.
// No process is spawned on these paths.

const require = createRequire(import.meta.url)

type Koffi = typeof KoffiModule
type Fn = ReturnType<KoffiModule.IKoffiLib['func']>

/** A declared C struct: its koffi type, its size, and its members' offsets. */
export interface CStruct {
  type: ReturnType<Koffi['struct']>
  size: number
  offset(member: string): number
}

export interface Bindings {
  koffi: Koffi
  structs: {
    openOpts: CStruct
    testOpts: CStruct
    batchOpts: CStruct
    tcHook: CStruct
    tcOpts: CStruct
    mapInfo: CStruct
  }
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
  progAttach: Fn
  progDetach2: Fn
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
  tcQuery: Fn
  btfLoadById: Fn
  btfFree: Fn
  btfTypeById: Fn
  btfName: Fn
  /** int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size), for koffi.register. */
  ringSampleFn: ReturnType<Koffi['pointer']>
  ringNew: Fn
  ringFree: Fn
  ringConsume: Fn
  programAttach: Fn
  linkDestroy: Fn
}

let bindings: Bindings | undefined

/** The libbpf bindings, loaded on first use. */
export function ffi(): Bindings {
  if (bindings) return bindings
  const koffi = require('koffi') as Koffi
  const lib = koffi.load('libbpf.so.1')
  const libc = koffi.load('libc.so.6')
  const declare = (name: string, def: Record<string, string>): CStruct => {
    const type = koffi.struct(name, def)
    return {type, size: koffi.sizeof(type), offset: (m) => koffi.offsetof(type, m)}
  }
  // Layouts of libbpf 1.1's structs and the kernel's struct bpf_map_info (natural alignment).
  const structs = {
    openOpts: declare('bpf_object_open_opts', {
      sz: 'size_t',
      object_name: 'const char*',
      relaxed_maps: 'bool',
      pin_root_path: 'const char*',
      _removed_attach_prog_fd: 'uint32_t',
      kconfig: 'const char*',
      btf_custom_path: 'const char*',
      kernel_log_buf: 'void*',
      kernel_log_size: 'size_t',
      kernel_log_level: 'uint32_t',
    }),
    testOpts: declare('bpf_test_run_opts', {
      sz: 'size_t',
      data_in: 'void*',
      data_out: 'void*',
      data_size_in: 'uint32_t',
      data_size_out: 'uint32_t',
      ctx_in: 'void*',
      ctx_out: 'void*',
      ctx_size_in: 'uint32_t',
      ctx_size_out: 'uint32_t',
      retval: 'uint32_t',
      repeat: 'int',
      duration: 'uint32_t',
      flags: 'uint32_t',
      cpu: 'uint32_t',
      batch_size: 'uint32_t',
    }),
    batchOpts: declare('bpf_map_batch_opts', {sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t'}),
    tcHook: declare('bpf_tc_hook', {sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t'}),
    tcOpts: declare('bpf_tc_opts', {
      sz: 'size_t',
      prog_fd: 'int',
      flags: 'uint32_t',
      prog_id: 'uint32_t',
      handle: 'uint32_t',
      priority: 'uint32_t',
    }),
    // linux/bpf.h struct bpf_map_info, up to the BTF ids the tool reads (the kernel fills what fits).
    mapInfo: declare('bpf_map_info', {
      type: 'uint32_t',
      id: 'uint32_t',
      key_size: 'uint32_t',
      value_size: 'uint32_t',
      max_entries: 'uint32_t',
      map_flags: 'uint32_t',
      name: 'char[16]',
      ifindex: 'uint32_t',
      btf_vmlinux_value_type_id: 'uint32_t',
      netns_dev: 'uint64_t',
      netns_ino: 'uint64_t',
      btf_id: 'uint32_t',
      btf_key_type_id: 'uint32_t',
      btf_value_type_id: 'uint32_t',
      btf_vmlinux_id: 'uint32_t',
      map_extra: 'uint64_t',
    }),
  }
  bindings = {
    koffi,
    structs,
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
    progAttach: lib.func('int bpf_prog_attach(int, int, int, unsigned int)'),
    progDetach2: lib.func('int bpf_prog_detach2(int, int, int)'),
    testRun: lib.func('int bpf_prog_test_run_opts(int, _Inout_ bpf_test_run_opts*)'),
    lookup: lib.func('int bpf_map_lookup_elem(int, void*, void*)'),
    update: lib.func('int bpf_map_update_elem(int, void*, void*, uint64_t)'),
    del: lib.func('int bpf_map_delete_elem(int, void*)'),
    nextKey: lib.func('int bpf_map_get_next_key(int, void*, void*)'),
    lookupBatch: lib.func(
      'int bpf_map_lookup_batch(int, void*, void*, void*, void*, _Inout_ uint32_t*, const bpf_map_batch_opts*)',
    ),
    closeFd: libc.func('int close(int)'),
    tcHookCreate: lib.func('int bpf_tc_hook_create(bpf_tc_hook*)'),
    tcHookDestroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook*)'),
    tcAttach: lib.func('int bpf_tc_attach(const bpf_tc_hook*, _Inout_ bpf_tc_opts*)'),
    tcDetach: lib.func('int bpf_tc_detach(const bpf_tc_hook*, const bpf_tc_opts*)'),
    tcQuery: lib.func('int bpf_tc_query(const bpf_tc_hook*, _Inout_ bpf_tc_opts*)'),
    btfLoadById: lib.func('void* btf__load_from_kernel_by_id(uint32_t)'),
    btfFree: lib.func('void btf__free(void*)'),
    btfTypeById: lib.func('void* btf__type_by_id(void*, uint32_t)'),
    btfName: lib.func('const char* btf__name_by_offset(void*, uint32_t)'),
    ringSampleFn: koffi.pointer(koffi.proto('int ring_buffer_sample_fn(void *ctx, void *data, size_t size)')),
    ringNew: lib.func('void* ring_buffer__new(int, ring_buffer_sample_fn*, void*, void*)'),
    ringFree: lib.func('void ring_buffer__free(void*)'),
    ringConsume: lib.func('int ring_buffer__consume(void*)'),
    programAttach: lib.func('void* bpf_program__attach(void*)'),
    linkDestroy: lib.func('int bpf_link__destroy(void*)'),
  }
  // libbpf's own messages go to stderr by default; the tool reports errors itself.
  bindings.setPrint(null)
  return bindings
}

export class BpfError extends Error {
  /** Set when the cause is the user's situation (nothing pinned yet, the wrong kind of object), not a bug. */
  userHint?: string
  /** What to do about it, for the CLI to name (host/errors.ts). */
  userNext?: NextStep

  constructor(
    readonly step: string,
    readonly errno: number,
    detail?: string,
    userHint?: string,
  ) {
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
export function check(step: string, rc: number): number {
  if (rc < 0) throw new BpfError(step, -rc)
  return rc
}

export function libbpfVersion(): string {
  return `${ffi().major()}.${ffi().minor()}`
}

export const closeFd = (fd: number): void => void ffi().closeFd(fd)
