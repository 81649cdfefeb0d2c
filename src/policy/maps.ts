import {endianness} from 'node:os'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {closeFd} from '../bpf/ffi.js'
import {mapDelete, mapDump, mapInfo, mapUpdate} from '../bpf/map-ops.js'
import {objGet, objKind} from '../bpf/object.js'
import {ipv4Key, keyToIpv4} from '../bpf/counters.js'
import {UserError} from '../host/errors.js'
import type {Desired, Mode} from './resolve.js'

// The lab 4 maps as user space sees them: found by name under the pin dir, checked for the
// layout of bpf/ebpfcni_policy.h, read whole and brought to a desired state by a diff.
// Order of writes: new rules first, then new isolation, then removals, so a pod that becomes
// isolated already has its allows. Entries are written one at a time: while a change that
// narrows what is allowed is being written, the maps briefly allow more than either end state.

export const POLICY_MAPS = {
  'ip-pair': {pairs: 'policy', ports: 'policy_ports', isolated: 'isolated', endpoints: 'endpoints'},
  identity: {rules: 'endpoint_policy', identity: 'identity', isolated: 'isolated', endpoints: 'endpoints'},
} as const

/** Every map name either design uses for rules (what a reload of another design leaves behind). */
export const ALL_POLICY_MAPS = [
  ...new Set([...Object.values(POLICY_MAPS['ip-pair']), ...Object.values(POLICY_MAPS.identity), 'conntrack']),
]

/** Maps a design may lack until the step that needs them (step 1's rules work without the rest). */
const OPTIONAL = new Set<string>(['isolated', 'policy_ports', 'endpoints'])

/** Shapes the program must declare: key and value sizes in bytes. */
const SHAPES: Record<string, {key: number; value: number; what: string}> = {
  policy: {key: 8, value: 4, what: 'key struct ip_pair (8 bytes), value __u32 verdict'},
  isolated: {key: 4, value: 4, what: 'key __u32 address, value __u32'},
  policy_ports: {key: 12, value: 4, what: 'key struct port_rule_key (12 bytes), value __u32 verdict'},
  identity: {key: 4, value: 4, what: 'key __u32 address, value __u32 identity'},
  endpoint_policy: {key: 12, value: 4, what: 'key struct endpoint_rule_key (12 bytes), value __u32 verdict'},
  endpoints: {key: 4, value: 4, what: 'key __u32 ifindex, value __u32 address'},
}

const PROTO = {tcp: 6, udp: 17} as const

/** Identities and verdicts are plain __u32s in the kernel: in the CPU's own byte order, whatever it is. */
const HOST_LE = endianness() === 'LE'
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  if (HOST_LE) b.writeUInt32LE(n)
  else b.writeUInt32BE(n)
  return b
}
const readU32 = (b: Buffer, offset = 0): number => (HOST_LE ? b.readUInt32LE(offset) : b.readUInt32BE(offset))

/**
 * Rule keys. ip-pair: struct ip_pair {saddr, daddr} for every port, struct port_rule_key
 * {src, dst, __be16 dport, __u8 proto, pad} for one port. identity: struct endpoint_rule_key
 * {peer identity (host u32), endpoint address, __be16 dport, __u8 proto, pad}, dport 0 and
 * proto 0 for every port. "src>dst" and "src>dst>tcp/80" are the strings of both.
 */
function pairKey(mode: Mode, pair: string): Buffer {
  const [s, d] = pair.split('>')
  return mode === 'ip-pair'
    ? Buffer.concat([ipv4Key(s), ipv4Key(d)])
    : Buffer.concat([u32(Number(s)), ipv4Key(d), Buffer.alloc(4)])
}
function portKey(mode: Mode, rule: string): Buffer {
  const [s, d, pp] = rule.split('>')
  const [proto, port] = pp.split('/')
  const tail = Buffer.alloc(4)
  tail.writeUInt16BE(Number(port), 0)
  tail[2] = PROTO[proto as keyof typeof PROTO]
  const src = mode === 'ip-pair' ? ipv4Key(s) : u32(Number(s))
  return Buffer.concat([src, ipv4Key(d), tail])
}
/** Decode a rule key: [kind, "src>dst" or "src>dst>tcp/80"]. */
function ruleOfKey(mode: Mode, k: Buffer): ['pair' | 'port', string] {
  const src = mode === 'ip-pair' ? keyToIpv4(k.subarray(0, 4)) : String(readU32(k, 0))
  const pair = `${src}>${keyToIpv4(k.subarray(4, 8))}`
  if (k.length === 8 || (mode === 'identity' && k.readUInt16BE(8) === 0 && k[10] === 0)) return ['pair', pair]
  const proto = k[10] === PROTO.udp ? 'udp' : k[10] === PROTO.tcp ? 'tcp' : `proto${k[10]}`
  return ['port', `${pair}>${proto}/${k.readUInt16BE(8)}`]
}

export type Current = Omit<Desired, 'mode'>

/** The map holding a design's every-port rules, and the one holding its port rules (the same in identity). */
export function ruleMapNames(mode: Mode): {pairs: string; ports: string} {
  return mode === 'ip-pair'
    ? POLICY_MAPS['ip-pair']
    : {pairs: POLICY_MAPS.identity.rules, ports: POLICY_MAPS.identity.rules}
}

export interface SyncResult {
  written: number
  removed: number
}

/** Which design the pinned maps implement: identity when endpoint_policy is pinned. */
export function detectMode(pinDir: string): Mode | undefined {
  if (existsSync(join(pinDir, POLICY_MAPS.identity.rules))) return 'identity'
  if (existsSync(join(pinDir, POLICY_MAPS['ip-pair'].pairs))) return 'ip-pair'
  return undefined
}

export class PolicyMaps {
  private readonly fds = new Map<string, number>()

  private constructor(
    readonly pinDir: string,
    readonly mode: Mode,
  ) {}

  /** Open the maps of the design that is pinned; a clear error when none is or a shape is off. */
  static open(pinDir: string): PolicyMaps {
    const mode = detectMode(pinDir)
    if (!mode)
      throw new UserError(
        `no policy map is pinned under ${pinDir} (looked for ${POLICY_MAPS['ip-pair'].pairs} and ${POLICY_MAPS.identity.rules})`,
        {next: {do: 'load-policy-program'}},
      )
    const maps = new PolicyMaps(pinDir, mode)
    try {
      for (const name of Object.values(POLICY_MAPS[mode])) {
        // Lab 4 step 1 has rules but no isolation yet: `isolated` and ports come with NetworkPolicy,
        // `endpoints` with source validation.
        if (OPTIONAL.has(name) && !existsSync(join(pinDir, name))) continue
        maps.openOne(name)
      }
    } catch (err) {
      maps.close()
      throw err
    }
    return maps
  }

  /** What the pinned maps hold now, and their design: opened, read whole, closed. */
  static snapshot(pinDir: string): Desired {
    const maps = PolicyMaps.open(pinDir)
    try {
      return {mode: maps.mode, ...maps.read()}
    } finally {
      maps.close()
    }
  }

  private openOne(name: string): void {
    const pin = join(this.pinDir, name)
    if (!existsSync(pin))
      throw new UserError(
        `${pin} is not pinned: the ${this.mode} design needs maps ${Object.values(POLICY_MAPS[this.mode]).join(', ')}`,
        {hint: 'declare it in your program (see bpf/ebpfcni_policy.h for the layouts) and load again'},
      )
    const fd = objGet(pin)
    this.fds.set(name, fd)
    if (objKind(fd) !== 'map') throw new UserError(`${pin} is not a map`)
    const info = mapInfo(fd)
    const want = SHAPES[name]
    if (info.keySize !== want.key || info.valueSize !== want.value) {
      throw new UserError(
        `${pin} has a ${info.keySize}-byte key and a ${info.valueSize}-byte value; expected ${want.what}`,
        {hint: 'include "ebpfcni_policy.h" and use its structs'},
      )
    }
  }

  private fd(name: string): number {
    return this.fds.get(name)!
  }

  read(): Current {
    const cur: Current = {
      pairs: new Map(),
      portPairs: new Map(),
      isolated: new Set(),
      identities: new Map(),
      endpoints: new Map(),
    }
    const {pairs, ports} = ruleMapNames(this.mode)
    for (const name of new Set([pairs, ports])) {
      if (!this.fds.has(name)) continue
      for (const e of mapDump(this.fd(name))) {
        const [kind, rule] = ruleOfKey(this.mode, e.key)
        ;(kind === 'pair' ? cur.pairs : cur.portPairs).set(rule, readU32(e.value))
      }
    }
    if (this.fds.has('isolated')) for (const e of mapDump(this.fd('isolated'))) cur.isolated.add(keyToIpv4(e.key))
    if (this.fds.has('endpoints'))
      for (const e of mapDump(this.fd('endpoints'))) cur.endpoints.set(readU32(e.key), keyToIpv4(e.value))
    if (this.mode === 'identity')
      for (const e of mapDump(this.fd('identity'))) cur.identities.set(keyToIpv4(e.key), readU32(e.value))
    return cur
  }

  /** Whether the design's optional maps are there: isolation (NetworkPolicy), ports, endpoints. */
  has(name: 'isolated' | 'policy_ports' | 'endpoints'): boolean {
    return this.fds.has(name) || (name === 'policy_ports' && this.mode === 'identity')
  }

  /** Bring the maps to `desired` by writing differences only. */
  sync(desired: Desired): SyncResult {
    if (desired.mode !== this.mode) throw new Error(`desired state is for ${desired.mode}, maps are ${this.mode}`)
    const {pairs, ports} = ruleMapNames(this.mode)
    const cur = this.read()
    if (desired.isolated.size && !this.has('isolated')) {
      throw new UserError(`a NetworkPolicy selects pods, but no isolated map is pinned under ${this.pinDir}`, {
        hint: 'NetworkPolicies need the isolated map (lab 4 step 2); hand-written deny/allow rules work without it',
      })
    }
    if (desired.portPairs.size && !this.has('policy_ports')) {
      throw new UserError(`a NetworkPolicy limits ports, but no ${ports} map is pinned under ${this.pinDir}`, {
        hint: 'declare it with the key struct port_rule_key (ebpfcni_policy.h), or remove ports from the policy',
      })
    }
    let written = 0
    let removed = 0
    const put = (map: string, key: Buffer, value: Buffer): void => {
      mapUpdate(this.fd(map), key, value)
      written++
    }
    const del = (map: string, key: Buffer): void => void (removed += Number(mapDelete(this.fd(map), key)))
    // 1. identities, endpoints and rules (allows before any new isolation)
    if (this.mode === 'identity') {
      for (const [ip, id] of desired.identities)
        if (cur.identities.get(ip) !== id) put('identity', ipv4Key(ip), u32(id))
    }
    if (this.has('endpoints')) {
      for (const [ifindex, ip] of desired.endpoints)
        if (cur.endpoints.get(ifindex) !== ip) put('endpoints', u32(ifindex), ipv4Key(ip))
    }
    for (const [pair, v] of desired.pairs) if (cur.pairs.get(pair) !== v) put(pairs, pairKey(this.mode, pair), u32(v))
    for (const [rule, v] of desired.portPairs)
      if (cur.portPairs.get(rule) !== v) put(ports, portKey(this.mode, rule), u32(v))
    // 2. isolation
    for (const d of desired.isolated) if (!cur.isolated.has(d)) put('isolated', ipv4Key(d), u32(1))
    // 3. removals: isolation first (un-isolating only opens), then rules, then identities and endpoints
    for (const d of cur.isolated) if (!desired.isolated.has(d)) del('isolated', ipv4Key(d))
    for (const pair of cur.pairs.keys()) if (!desired.pairs.has(pair)) del(pairs, pairKey(this.mode, pair))
    for (const rule of cur.portPairs.keys()) if (!desired.portPairs.has(rule)) del(ports, portKey(this.mode, rule))
    if (this.mode === 'identity')
      for (const ip of cur.identities.keys()) if (!desired.identities.has(ip)) del('identity', ipv4Key(ip))
    if (this.has('endpoints'))
      for (const ifindex of cur.endpoints.keys()) if (!desired.endpoints.has(ifindex)) del('endpoints', u32(ifindex))
    return {written, removed}
  }

  close(): void {
    for (const fd of this.fds.values()) closeFd(fd)
    this.fds.clear()
  }
}
