import {join} from 'node:path'
import {mapDump, mapInfo} from '#bpf/map-ops.js'
import {keyToIpv4} from '#bpf/counters.js'
import {cachedObject} from '#bpf/build.js'
import {LAB_DIR} from './services.js'

// What wire.bpf.c counts on a pod's host veth: packets addressed to a VIP, SYNs by destination.

/** What wire.bpf.c counted on one pod's host veth. */
export interface WireCounts {
  /** Packets addressed to each VIP (dropped there). */
  toVip: Map<string, bigint>
  /** SYNs by destination "ip:port". */
  syns: Map<string, bigint>
}

/** The counts in wire.bpf.c's maps now. */
export function wireCounts(vips: number, synDst: number): WireCounts {
  const toVip = new Map<string, bigint>()
  for (const {key, value} of mapDump(vips, mapInfo(vips))) toVip.set(keyToIpv4(key), value.readBigUInt64LE())
  const syns = new Map<string, bigint>()
  for (const {key, value} of mapDump(synDst, mapInfo(synDst)))
    syns.set(`${keyToIpv4(key)}:${key.readUInt16BE(4)}`, value.readBigUInt64LE())
  return {toVip, syns}
}

/** What was counted between two readings. */
export function diff(after: WireCounts, before: WireCounts): WireCounts {
  const sub = (a: Map<string, bigint>, b: Map<string, bigint>) =>
    new Map([...a].map(([k, v]) => [k, v - (b.get(k) ?? 0n)] as [string, bigint]).filter(([, v]) => v > 0n))
  return {
    toVip: new Map([...after.toVip].map(([k, v]) => [k, v - (before.toVip.get(k) ?? 0n)])),
    syns: sub(after.syns, before.syns),
  }
}

/** wire.bpf.c, ebpfcni's own counter of the lab, built once into the state dir's cache (cachedObject). */
export function wireObject(): Promise<string> {
  return cachedObject(join(LAB_DIR(), 'wire.bpf.c'), 'wire counter (lab 6)')
}
