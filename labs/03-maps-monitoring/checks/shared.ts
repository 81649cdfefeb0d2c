// What several of lab 3's step files share: helpers, constants, probes.
import {CheckSkip} from '#checks/engine.js'
import type {Lab3Context} from '../context.js'
import {MAP_TYPE, MAP_TYPES, mapInfo, type MapInfo} from '#bpf/map-ops.js'
import {objGet} from '#bpf/object.js'
import {closeFd} from '#bpf/ffi.js'
import {counterShapeProblems} from '#bpf/counters.js'
import {addressed, type AddressedPod} from '#checks/check-pods.js'
// Lab 3's checks: the counter map's shape, how it is incremented, that it counts exactly
// what a pod sends, and that the exporter serves those counts in a valid exposition.

export const COUNTER_TYPES = new Set<number>([
  MAP_TYPE.HASH,
  MAP_TYPE.PERCPU_HASH,
  MAP_TYPE.LRU_HASH,
  MAP_TYPE.LRU_PERCPU_HASH,
])
/** What the step counter asks of the map's type, when the pinned map is another (undefined: it is a hash). */
export const counterTypeProblem = (info: MapInfo): string | undefined =>
  COUNTER_TYPES.has(info.type)
    ? undefined
    : `type is ${MAP_TYPES[info.type] ?? info.type}, expected a hash (BPF_MAP_TYPE_HASH or _PERCPU_HASH)`

/**
 * The pinned counter map's shape and what is wrong with it for step counter (map.counter.pinned
 * fails on these; a later step's check names the type when the map is not a hash).
 */
export function counterMapProblems(pin: string): {info: MapInfo; problems: string[]; typeProblem?: string} {
  const fd = objGet(pin)
  try {
    const info = mapInfo(fd)
    const problems = counterShapeProblems(info)
    const typeProblem = counterTypeProblem(info)
    if (typeProblem) problems.unshift(typeProblem)
    if (info.valueSize === 4)
      problems.push('value is 4 bytes: a __u32 count wraps after 4 billion packets, expected __u64')
    return {info, problems, typeProblem}
  } finally {
    closeFd(fd)
  }
}

/** Datagrams sent by map.counter.counts, and what else A may send meanwhile (none expected). */
export const UDP_COUNT = 20
export const COUNT_SLACK = 3

export const reversed = (ip: string): string => ip.split('.').reverse().join('.')

export async function twoPods(ctx: Lab3Context): Promise<[AddressedPod, AddressedPod]> {
  await ctx.pinned.deployed()
  const a = await ctx.plugin.healthyA()
  const b = await ctx.plugin.podB()
  if (!addressed(a) || !addressed(b)) throw new CheckSkip("needs two pods with addresses (lab 1's plugin)")
  return [a, b]
}
