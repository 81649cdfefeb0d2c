// What several of lab 3's step files share: helpers, constants, probes.
import {CheckSkip} from '#checks/engine.js'
import type {Lab3Context} from '../context.js'
import {MAP_TYPE} from '#bpf/map-ops.js'
import {addressed, type AddressedPod} from '#checks/check-pods.js'
// Lab 3's checks: the counter map's shape, how it is incremented, that it counts exactly
// what a pod sends, and that the exporter serves those counts in a valid exposition.

export const COUNTER_TYPES = new Set<number>([
  MAP_TYPE.HASH,
  MAP_TYPE.PERCPU_HASH,
  MAP_TYPE.LRU_HASH,
  MAP_TYPE.LRU_PERCPU_HASH,
])
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
