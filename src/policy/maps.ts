import {endianness} from 'node:os'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {closeFd, mapDelete, mapDump, mapInfo, mapUpdate, objGet, objKind} from '../bpf/libbpf.js'
import {ipv4Key, keyToIpv4} from '../bpf/counters.js'
import {UserError} from '../host/errors.js'
import type {Desired, Mode} from './resolve.js'

// The lab 4 maps as user space sees them: found by name under the pin dir, checked for the
// layout of bpf/ebpfcni_policy.h, read whole and brought to a desired state by a diff.
// Order of writes: new rules first, then new isolation, then removals — so no packet
// ever meets a half-written rule set (a newly isolated pod already has its allows).

export const POLICY_MAPS = {
  'ip-pair': {pairs: 'policy', isolated: 'isolated', ports: 'policy_ports'},
  identity: {pairs: 'identity_policy', isolated: 'identity_isolated', ports: 'identity_policy_ports', identity: 'identity'},
} as const

/** Maps a design may lack until the step that needs them (rules work without isolation or ports). */
const OPTIONAL = new Set<string>(['isolated', 'policy_ports', 'identity_policy_ports'])

/** Shapes the program must declare: key and value sizes in bytes. */
const SHAPES: Record<string, {key: number; value: number; what: string}> = {
  policy: {key: 8, value: 4, what: 'key struct ip_pair (8 bytes), value __u32 verdict'},
  isolated: {key: 4, value: 4, what: 'key __u32 address, value __u32'},
  identity: {key: 4, value: 4, what: 'key __u32 address, value __u32 identity'},
  identity_policy: {key: 8, value: 4, what: 'key struct identity_pair (8 bytes), value __u32 verdict'},
  identity_isolated: {key: 4, value: 4, what: 'key __u32 identity, value __u32'},
  policy_ports: {key: 12, value: 4, what: 'key struct port_rule_key (12 bytes), value __u32 verdict'},
  identity_policy_ports: {key: 12, value: 4, what: 'key struct port_rule_key (12 bytes), value __u32 verdict'},
}

const PROTO = {tcp: 6, udp: 17} as const

// Identities and verdicts are plain __u32s in the kernel: in the CPU's own byte order, whatever it is.
const HOST_LE = endianness() === 'LE'
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  if (HOST_LE) b.writeUInt32LE(n)
  else b.writeUInt32BE(n)
  return b
}
const readU32 = (b: Buffer, offset = 0): number => (HOST_LE ? b.readUInt32LE(offset) : b.readUInt32BE(offset))

/** Map key bytes for a "src>dst" pair: addresses in network order, identities as host u32s. */
function pairKey(mode: Mode, pair: string): Buffer {
  const [s, d] = pair.split('>')
  return mode === 'ip-pair' ? Buffer.concat([ipv4Key(s), ipv4Key(d)]) : Buffer.concat([u32(Number(s)), u32(Number(d))])
}
function pairOfKey(mode: Mode, k: Buffer): string {
  return mode === 'ip-pair' ? `${keyToIpv4(k.subarray(0, 4))}>${keyToIpv4(k.subarray(4, 8))}` : `${readU32(k, 0)}>${readU32(k, 4)}`
}
/** "src>dst>tcp/80" <-> struct port_rule_key {src, dst, __be16 dport, __u8 proto, __u8 pad}. */
function portKey(mode: Mode, rule: string): Buffer {
  const [s, d, pp] = rule.split('>')
  const [proto, port] = pp.split('/')
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(Number(port), 0)
  tail[2] = PROTO[proto as keyof typeof PROTO]
  return Buffer.concat([pairKey(mode, `${s}>${d}`), tail])
}
function portOfKey(mode: Mode, k: Buffer): string {
  const proto = k[10] === PROTO.udp ? 'udp' : k[10] === PROTO.tcp ? 'tcp' : `proto${k[10]}`
  return `${pairOfKey(mode, k.subarray(0, 8))}>${proto}/${k.readUInt16BE(8)}`
}
const isolatedKey = (mode: Mode, v: string): Buffer => (mode === 'ip-pair' ? ipv4Key(v) : u32(Number(v)))
const isolatedOfKey = (mode: Mode, k: Buffer): string => (mode === 'ip-pair' ? keyToIpv4(k) : String(readU32(k)))

export interface Current {
  pairs: Map<string, number>
  portPairs: Map<string, number>
  isolated: Set<string>
  identities: Map<string, number>
}

export interface SyncResult {
  written: number
  removed: number
}

/** Which design the pinned maps implement: identity when identity_policy is pinned. */
export function detectMode(pinDir: string): Mode | undefined {
  if (existsSync(join(pinDir, POLICY_MAPS.identity.pairs))) return 'identity'
  if (existsSync(join(pinDir, POLICY_MAPS['ip-pair'].pairs))) return 'ip-pair'
  return undefined
}

export class PolicyMaps {
  private readonly fds = new Map<string, number>()

  private constructor(readonly pinDir: string, readonly mode: Mode) {}

  /** Open the maps of the design that is pinned; a clear error when none is or a shape is off. */
  static open(pinDir: string): PolicyMaps {
    const mode = detectMode(pinDir)
    if (!mode) throw new UserError(`no policy map is pinned under ${pinDir} (looked for ${POLICY_MAPS['ip-pair'].pairs} and ${POLICY_MAPS.identity.pairs})`, {hint: 'load lab 4\'s program first: ebpfcni check 4 (or ebpfcni bpf build && ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace)'})
    const maps = new PolicyMaps(pinDir, mode)
    try {
      for (const name of Object.values(POLICY_MAPS[mode])) {
        // Lab 4 step 1 has rules but no isolation yet: `isolated` and ports come with NetworkPolicy.
        if (OPTIONAL.has(name) && !existsSync(join(pinDir, name))) continue
        maps.openOne(name)
      }
    } catch (err) {
      maps.close()
      throw err
    }
    return maps
  }

  private openOne(name: string): void {
    const pin = join(this.pinDir, name)
    if (!existsSync(pin)) throw new UserError(`${pin} is not pinned: the ${this.mode} design needs maps ${Object.values(POLICY_MAPS[this.mode]).join(', ')}`, {hint: 'declare it in your program (see bpf/ebpfcni_policy.h for the layouts) and load again'})
    const fd = objGet(pin)
    this.fds.set(name, fd)
    if (objKind(fd) !== 'map') throw new UserError(`${pin} is not a map`)
    const info = mapInfo(fd)
    const want = SHAPES[name]
    if (info.keySize !== want.key || info.valueSize !== want.value) {
      throw new UserError(`${pin} has a ${info.keySize}-byte key and a ${info.valueSize}-byte value; expected ${want.what}`, {hint: 'include "ebpfcni_policy.h" and use its structs'})
    }
  }

  private fd(name: string): number {
    return this.fds.get(name)!
  }

  read(): Current {
    const m = POLICY_MAPS[this.mode]
    const cur: Current = {pairs: new Map(), portPairs: new Map(), isolated: new Set(), identities: new Map()}
    for (const e of mapDump(this.fd(m.pairs))) cur.pairs.set(pairOfKey(this.mode, e.key), readU32(e.value))
    if (this.fds.has(m.ports)) for (const e of mapDump(this.fd(m.ports))) cur.portPairs.set(portOfKey(this.mode, e.key), readU32(e.value))
    if (this.fds.has(m.isolated)) for (const e of mapDump(this.fd(m.isolated))) cur.isolated.add(isolatedOfKey(this.mode, e.key))
    if (this.mode === 'identity') for (const e of mapDump(this.fd(POLICY_MAPS.identity.identity))) cur.identities.set(keyToIpv4(e.key), readU32(e.value))
    return cur
  }

  /** Bring the maps to `desired` by writing differences only. */
  sync(desired: Desired): SyncResult {
    if (desired.mode !== this.mode) throw new Error(`desired state is for ${desired.mode}, maps are ${this.mode}`)
    const m = POLICY_MAPS[this.mode]
    const cur = this.read()
    if (desired.isolated.size && !this.fds.has(m.isolated)) {
      throw new UserError(`a NetworkPolicy selects pods, but no ${m.isolated} map is pinned under ${this.pinDir}`, {hint: 'NetworkPolicies need the isolated map (lab 4 step 2); hand-written deny/allow rules work without it'})
    }
    if (desired.portPairs.size && !this.fds.has(m.ports)) {
      throw new UserError(`a NetworkPolicy limits ports, but no ${m.ports} map is pinned under ${this.pinDir}`, {hint: 'declare it with the key struct port_rule_key (ebpfcni_policy.h), or remove ports from the policy'})
    }
    let written = 0
    let removed = 0
    const one = u32(1)
    // 1. identities and rules (allows before any new isolation)
    if (this.mode === 'identity') {
      for (const [ip, id] of desired.identities) {
        if (cur.identities.get(ip) !== id) (mapUpdate(this.fd(POLICY_MAPS.identity.identity), ipv4Key(ip), u32(id)), written++)
      }
    }
    for (const [pair, v] of desired.pairs) {
      if (cur.pairs.get(pair) !== v) (mapUpdate(this.fd(m.pairs), pairKey(this.mode, pair), u32(v)), written++)
    }
    for (const [rule, v] of desired.portPairs) {
      if (cur.portPairs.get(rule) !== v) (mapUpdate(this.fd(m.ports), portKey(this.mode, rule), u32(v)), written++)
    }
    // 2. isolation
    for (const d of desired.isolated) if (!cur.isolated.has(d)) (mapUpdate(this.fd(m.isolated), isolatedKey(this.mode, d), one), written++)
    // 3. removals: isolation first (un-isolating only opens), then rules, then identities
    for (const d of cur.isolated) if (!desired.isolated.has(d)) removed += Number(mapDelete(this.fd(m.isolated), isolatedKey(this.mode, d)))
    for (const pair of cur.pairs.keys()) if (!desired.pairs.has(pair)) removed += Number(mapDelete(this.fd(m.pairs), pairKey(this.mode, pair)))
    for (const rule of cur.portPairs.keys()) if (!desired.portPairs.has(rule)) removed += Number(mapDelete(this.fd(m.ports), portKey(this.mode, rule)))
    if (this.mode === 'identity') {
      for (const ip of cur.identities.keys()) if (!desired.identities.has(ip)) removed += Number(mapDelete(this.fd(POLICY_MAPS.identity.identity), ipv4Key(ip)))
    }
    return {written, removed}
  }

  close(): void {
    for (const fd of this.fds.values()) closeFd(fd)
    this.fds.clear()
  }
}
