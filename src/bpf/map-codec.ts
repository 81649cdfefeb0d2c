import {isIPv4} from 'node:net'
import {UserError} from '../host/errors.js'
import {BtfDecoder, jsonSafe, type Decoder, type IntRule} from './btf.js'
import {keyToIpv4} from './counters.js'
import {isPerCpu, MAP_TYPE, perCpuSlots, type MapInfo} from './map-ops.js'

// Map keys and values as a learner reads them, with the raw bytes beside. Typed from the map's
// BTF (struct fields by name), with the labs' conventions for what a plain integer holds: the
// fields of ebpfcni_policy.h and ebpfcni_conntrack.h are copied from the packet, so addresses
// (saddr, src, endpoint…) and ports (dport, sport) are in network order whatever their C type,
// and proto is an IP protocol number. `policy list` reads the same keys the same way.

/** Integer fields the labs copy from the packet (network order), by name. */
const ADDRESS_FIELD = /^(s|d)?addr$|^(src|dst|endpoint|ip|daddr|saddr)$|(^|_)(addr|ip)$/i
const PORT_FIELD = /^(s|d)?port$|(^|_)port$/i
const PROTO_FIELD = /^proto(col)?$/i
const PROTOCOLS: Record<number, string> = {1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6'}

/** Lab maps whose plain 4-byte key or value is not an address (or is one though unnamed). */
const PLAIN_KEY: Record<string, string> = {endpoints: 'ifindex', drop_reasons: 'index'}
const PLAIN_VALUE: Record<string, string> = {endpoints: 'addr'}

export const dottedIpv4 = (b: Buffer, o = 0): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`

/** The labs' naming conventions as a BTF integer rule. */
export const labFieldRule: IntRule = (name, size) => {
  if (size === 4 && ADDRESS_FIELD.test(name)) return (b, o) => dottedIpv4(b, o)
  if (size === 2 && PORT_FIELD.test(name)) return (b, o) => b.readUInt16BE(o)
  if (size === 1 && PROTO_FIELD.test(name)) return (b, o) => PROTOCOLS[b[o]] ?? b[o]
  return undefined
}

const isArray = (type: number): boolean => type === MAP_TYPE.ARRAY || type === MAP_TYPE.PERCPU_ARRAY

/** Struct members named pad…: the labs' headers name a key's padding so it can be zeroed. */
const PAD_FIELD = /^_*pad/i

/**
 * Bytes as hex, one group per field when the layout is known, else per 4 bytes. Every byte is
 * shown: the compiler's padding, between fields or after the last, as "pad:…" (walked: two keys
 * for one source that differed only in unzeroed padding looked alike); a member named pad… is a field.
 */
export function hexGroups(b: Buffer, fields?: Array<{byte: number; size: number}>): string {
  if (!fields?.length)
    return Array.from({length: Math.ceil(b.length / 4)}, (_, i) =>
      b.toString('hex', i * 4, Math.min(b.length, i * 4 + 4)),
    ).join(' ')
  const groups: string[] = []
  let at = 0
  const pad = (from: number, to: number) => to > from && groups.push(`pad:${b.toString('hex', from, to)}`)
  for (const f of [...fields].sort((x, y) => x.byte - y.byte)) {
    const end = Math.min(b.length, f.byte + f.size)
    if (end <= at) continue // a union's other view of bytes already shown
    pad(at, f.byte)
    const from = Math.max(at, f.byte)
    groups.push(b.toString('hex', from, end))
    at = end
  }
  pad(at, b.length)
  return groups.join(' ')
}

/** Without BTF: 4-byte keys are IPv4 (the labs key by address, network order), 8-byte keys address pairs. */
const fallbackKey = (b: Buffer): string =>
  b.length === 4 ? keyToIpv4(b) : b.length === 8 ? `${keyToIpv4(b)} → ${keyToIpv4(b.subarray(4))}` : b.toString('hex')
/** Without BTF: 8-byte values as u64, 4-byte ones as u32 (host order). */
export const fallbackValue = (b: Buffer): string =>
  b.length === 8 ? b.readBigUInt64LE().toString() : b.length === 4 ? String(b.readUInt32LE()) : b.toString('hex')

/** A per-CPU value: integers summed ("total (per CPU: a + b …)"), anything else listed per CPU. */
export function perCpuValue(value: Buffer, info: MapInfo, one: (v: Buffer) => unknown): unknown {
  const slots = perCpuSlots(value, info).map(one)
  const ints = slots.map((v) =>
    typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : typeof v === 'number' ? BigInt(v) : undefined,
  )
  if (ints.every((v) => v !== undefined)) return `${ints.reduce((a, b) => a! + b!, 0n)} (per CPU: ${ints.join(' + ')})`
  return slots
}

export interface DecodedEntry {
  key: unknown
  value: unknown
  /** The raw bytes, as the kernel holds them. */
  keyHex: string
  valueHex: string
  /** The same, one group per field, the compiler's padding as pad:… ("0a0a0002 06 pad:7f0000"); per-CPU slots split by " | ". */
  keyBytes: string
  valueBytes: string
}

/** Padding says nothing: struct members named pad… are left out of the decoded form (not of the bytes). */
const withoutPadding = (v: unknown): unknown =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v).filter(([k]) => !PAD_FIELD.test(k)))
    : v

/** One map's codec: built once from its info (and BTF), then applied to each entry. */
export class MapCodec {
  private constructor(
    private readonly info: MapInfo,
    private readonly keyOf: (b: Buffer) => unknown,
    private readonly valueOf: (b: Buffer) => unknown,
    private readonly keyFields?: Array<{byte: number; size: number}>,
    private readonly valueFields?: Array<{byte: number; size: number}>,
  ) {}

  static for(info: MapInfo): MapCodec {
    const btf = BtfDecoder.load(info.btfId)
    try {
      const plainKey = PLAIN_KEY[info.name]
      // A 4-byte hash key is an address in the labs' maps (counter, isolated, identity), whatever
      // integer type declares it; array indexes and the maps named in PLAIN_KEY are numbers.
      const addressKey = info.keySize === 4 && !isArray(info.type) && !plainKey
      const typed = (id: number, hint: string): Decoder | undefined =>
        btf && id ? btf.decoder(id, hint, labFieldRule) : undefined
      const key = addressKey ? undefined : typed(info.btfKeyTypeId, plainKey ?? info.name)
      const value = typed(info.btfValueTypeId, PLAIN_VALUE[info.name] ?? '')
      const valueOne = (v: Buffer): unknown =>
        value ? withoutPadding(jsonSafe(value(v, 0))) : fallbackValue(v.subarray(0, info.valueSize))
      return new MapCodec(
        info,
        (b) => (addressKey ? dottedIpv4(b) : key ? withoutPadding(jsonSafe(key(b, 0))) : fallbackKey(b)),
        (b) => (isPerCpu(info.type) ? perCpuValue(b, info, valueOne) : valueOne(b)),
        btf && info.btfKeyTypeId ? btf.fields(info.btfKeyTypeId) : undefined,
        btf && info.btfValueTypeId ? btf.fields(info.btfValueTypeId) : undefined,
      )
    } finally {
      btf?.close()
    }
  }

  decode(key: Buffer, value: Buffer): DecodedEntry {
    return {
      key: this.keyOf(key),
      value: this.valueOf(value),
      keyHex: key.toString('hex'),
      valueHex: value.toString('hex'),
      keyBytes: hexGroups(key, this.keyFields),
      valueBytes: isPerCpu(this.info.type)
        ? perCpuSlots(value, this.info)
            .map((s) => hexGroups(s, this.valueFields))
            .join(' | ')
        : hexGroups(value, this.valueFields),
    }
  }

  /** A looked-up value alone (--key). */
  value(value: Buffer): unknown {
    return this.valueOf(value)
  }
}

/** A key typed by the learner: IPv4 (network order), an address pair "a.b.c.d,e.f.g.h", or hex. */
export function parseKey(text: string, size: number): Buffer {
  const ip = (s: string): number[] | undefined => (isIPv4(s) ? s.split('.').map(Number) : undefined)
  const parts = text.split(',').map(ip)
  let b: Buffer | undefined
  if (parts.every(Boolean)) b = Buffer.from(parts.flat() as number[])
  else if (/^(0x)?[0-9a-f]+$/i.test(text)) b = Buffer.from(text.replace(/^0x/i, ''), 'hex')
  if (!b || b.length !== size)
    throw new UserError(`key "${text}" is not ${size} bytes`, {
      hint:
        size === 4
          ? 'give an IPv4 address like 10.10.0.5, or 8 hex digits'
          : size === 8
            ? 'give "SRC,DST" addresses or 16 hex digits'
            : `give ${size * 2} hex digits`,
    })
  return b
}

/** A value typed by the learner: an unsigned integer for 4- or 8-byte values, else hex. */
export function parseValue(text: string, size: number): Buffer {
  const b = Buffer.alloc(size)
  if (/^\d+$/.test(text) && (size === 8 || size === 4)) {
    const n = BigInt(text)
    if (n >= 1n << BigInt(size * 8))
      throw new UserError(`value ${text} does not fit the map's ${size}-byte value`, {
        hint: `the largest ${size}-byte value is ${(1n << BigInt(size * 8)) - 1n}`,
      })
    if (size === 8) b.writeBigUInt64LE(n)
    else b.writeUInt32LE(Number(n))
    return b
  }
  const hex = Buffer.from(text.replace(/^0x/i, ''), 'hex')
  if (hex.length !== size)
    throw new UserError(`value "${text}" is not ${size} bytes`, {
      hint: `give ${size * 2} hex digits${size === 8 || size === 4 ? ' or a decimal number' : ''}`,
    })
  return hex
}
