import {constants} from 'node:os'
import {readFileSync} from 'node:fs'
import {BpfError, check, ffi} from './ffi.js'
import {objKind} from './object.js'

// BPF maps by fd: what the kernel says a map is (struct bpf_map_info), per-CPU value layout,
// lookup, update, delete and dump (batched where the kernel can).

const b = ffi

/** enum bpf_map_type values the labs use. */
export const MAP_TYPE = {HASH: 1, ARRAY: 2, PERCPU_HASH: 5, PERCPU_ARRAY: 6, LRU_HASH: 9, LRU_PERCPU_HASH: 10} as const

/**
 * Every enum bpf_map_type value the kernel has (6.18: 0 to 33), named as bpftool names them: the
 * kernel's BPF_MAP_TYPE_<NAME> in lower case (19 and 21 by their current names, not the _DEPRECATED ones).
 */
const MAP_TYPE_NAMES = [
  'unspec',
  'hash',
  'array',
  'prog_array',
  'perf_event_array',
  'percpu_hash',
  'percpu_array',
  'stack_trace',
  'cgroup_array',
  'lru_hash',
  'lru_percpu_hash',
  'lpm_trie',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'sockmap',
  'cpumap',
  'xskmap',
  'sockhash',
  'cgroup_storage',
  'reuseport_sockarray',
  'percpu_cgroup_storage',
  'queue',
  'stack',
  'sk_storage',
  'devmap_hash',
  'struct_ops',
  'ringbuf',
  'inode_storage',
  'task_storage',
  'bloom_filter',
  'user_ringbuf',
  'cgrp_storage',
  'arena',
] as const

/** Kernel map type numbers, named (for listings). */
export const MAP_TYPES: Record<number, string> = Object.fromEntries(MAP_TYPE_NAMES.map((name, i) => [i, name]))

/** A map type by name, or "type N" for one newer than this table (a later kernel's). */
export const mapTypeName = (type: number): string => MAP_TYPES[type] ?? `type ${type}`

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
    const e = new BpfError(
      'reading map info',
      constants.errno.EINVAL,
      `this pinned object is ${kind === 'program' ? 'a program, not a BPF map' : 'not a BPF map'}`,
    )
    e.userHint = kind === 'program' ? 'name a map, not a program' : 'name a pinned map'
    e.userNext = {do: 'list-maps'}
    throw e
  }
  const s = b().structs.mapInfo
  const buf = Buffer.alloc(s.size)
  const len = [buf.length]
  check('reading map info', b().objGetInfoByFd(fd, buf, len))
  const u32 = (member: string): number => buf.readUInt32LE(s.offset(member))
  const raw = buf.toString('utf8', s.offset('name'), s.offset('name') + 16)
  return {
    type: u32('type'),
    id: u32('id'),
    keySize: u32('key_size'),
    valueSize: u32('value_size'),
    maxEntries: u32('max_entries'),
    flags: u32('map_flags'),
    name: raw.slice(0, Math.max(0, raw.indexOf('\0'))) || raw,
    btfId: u32('btf_id'),
    btfKeyTypeId: u32('btf_key_type_id'),
    btfValueTypeId: u32('btf_value_type_id'),
  }
}

/** Per-CPU maps hold one value per possible CPU, each padded to 8 bytes. */
export const isPerCpu = (type: number): boolean =>
  type === MAP_TYPE.PERCPU_HASH || type === MAP_TYPE.PERCPU_ARRAY || type === MAP_TYPE.LRU_PERCPU_HASH

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
    const rc = lib.lookupBatch(fd, first ? null : inBatch, outBatch, keys, values, count, {
      sz: lib.structs.batchOpts.size,
      elem_flags: 0n,
      flags: 0n,
    }) as number
    if (rc < 0 && rc !== -constants.errno.ENOENT) {
      if (first && (rc === -constants.errno.EINVAL || rc === -constants.errno.ENOTSUP || rc === -524))
        return mapDumpByIteration(fd, info)
      check('map batch lookup', rc)
    }
    for (let i = 0; i < count[0]; i++) {
      out.push({
        key: keys.subarray(i * info.keySize, (i + 1) * info.keySize),
        value: values.subarray(i * stride, (i + 1) * stride),
      })
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
