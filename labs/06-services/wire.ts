import {existsSync, mkdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {mapDump, mapInfo} from '#bpf/map-ops.js'
import {keyToIpv4} from '#bpf/counters.js'
import {buildBpf} from '#bpf/build.js'
import {packageRoot, stateDir} from '#host/paths.js'
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

/**
 * wire.bpf.c built once into the state dir's cache, and again when it or the header it includes was
 * saved after the object: it is ebpfcni's own program, and a clang run in every step's checks cost
 * each of them the build. Built under another name and renamed, so a run never loads a half-written
 * object. Throws when clang refuses it (ebpfcni's fault, not the learner's).
 */
export async function wireObject(): Promise<string> {
  const source = join(LAB_DIR(), 'wire.bpf.c')
  const header = join(packageRoot(), 'bpf', 'ebpfcni_parse.h')
  const object = join(stateDir(), 'cache', 'lab6-wire.bpf.o')
  const newest = Math.max(...[source, header].map((f) => statSync(f).mtimeMs))
  if (existsSync(object) && statSync(object).mtimeMs >= newest) return object
  mkdirSync(join(stateDir(), 'cache'), {recursive: true})
  const partial = `${object}.${process.pid}.tmp`
  const built = await buildBpf(source, partial)
  if (!built.ok) {
    rmSync(partial, {force: true})
    throw new Error(`ebpfcni's own wire.bpf.c did not build: ${built.problem ?? built.diagnostics[0]?.message}`)
  }
  renameSync(partial, object)
  return object
}
