import {closeFd} from './ffi.js'
import {isPerCpu, mapDump, mapInfo, mapLookup, perCpuSlots, valueBufferSize, type MapInfo} from './map-ops.js'
import {objGet} from './object.js'

// Counter maps as the labs define them: key = IPv4 address in network order (4 bytes),
// value = a u64 (or u32) count, plain or per-CPU (then summed over CPUs).

export const ipv4Key = (ip: string): Buffer => Buffer.from(ip.split('.').map(Number))
export const keyToIpv4 = (k: Buffer): string => `${k[0]}.${k[1]}.${k[2]}.${k[3]}`

export interface CounterSnapshot {
  info: MapInfo
  perCpu: boolean
  /** Address (dotted) -> count, summed over CPUs for per-CPU maps. */
  counts: Map<string, bigint>
}

/** Sum one value buffer: one slot, or one padded slot per possible CPU. */
export function counterValue(value: Buffer, info: Pick<MapInfo, 'type' | 'valueSize'>): bigint {
  const read = (slot: Buffer): bigint => (info.valueSize >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUInt32LE(0)))
  if (!isPerCpu(info.type)) return read(value)
  return perCpuSlots(value, info).reduce((sum, slot) => sum + read(slot), 0n)
}

/** Problems that make a map unusable as a per-address counter, in words; empty when fine. */
export function counterShapeProblems(info: MapInfo): string[] {
  const problems: string[] = []
  if (info.keySize !== 4) problems.push(`key is ${info.keySize} bytes, expected 4 (an IPv4 address, __u32)`)
  if (info.valueSize !== 8 && info.valueSize !== 4)
    problems.push(`value is ${info.valueSize} bytes, expected 8 (a __u64 count)`)
  return problems
}

/** Read a pinned counter map whole (batched through libbpf). */
export function readCounterMap(pin: string): CounterSnapshot {
  const fd = objGet(pin)
  try {
    const info = mapInfo(fd)
    const problems = counterShapeProblems(info)
    if (problems.length) throw new Error(`${pin} is not a counter map: ${problems.join('; ')}`)
    const counts = new Map<string, bigint>()
    for (const e of mapDump(fd, info)) counts.set(keyToIpv4(e.key), counterValue(e.value, info))
    return {info, perCpu: isPerCpu(info.type), counts}
  } finally {
    closeFd(fd)
  }
}

/** The u64s at array keys 0..count-1 of a pinned array (one open), summed over CPUs for a per-CPU one. */
export function readCounterSlots(pin: string, count: number): bigint[] {
  const fd = objGet(pin)
  try {
    const info = mapInfo(fd)
    const key = Buffer.alloc(4)
    return Array.from({length: count}, (_, i) => {
      key.writeUInt32LE(i)
      const v = mapLookup(fd, key, valueBufferSize(info))
      return v ? counterValue(v, info) : 0n
    })
  } finally {
    closeFd(fd)
  }
}

/** The u64 at key 0 of a pinned array (a single counter such as flow_lost or drops). */
export const readCounterSlot = (pin: string): bigint => readCounterSlots(pin, 1)[0]
