import {ffi} from './ffi.js'

// BTF-aware decoding of map keys and values: struct fields by name, integers by size and
// signedness, arrays, and IPv4 addresses dotted where the type says so (__be32) or the field
// name does (addr, ip). Reads the map's own BTF from the kernel through libbpf.

export type Decoded = string | number | bigint | Decoded[] | {[field: string]: Decoded}
export type Decoder = (buf: Buffer, off: number) => Decoded
/**
 * How an integer is read when its name says more than its type (a __u16 dport holds network
 * order): asked for every integer with its field or map name and size; undefined keeps the default.
 */
export type IntRule = (name: string, size: number) => Decoder | undefined

const KIND = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  ENUM64: 19,
} as const
const ADDRESSY = /(^|_)(s|d)?(addr|ip)(_|$)|saddr|daddr|ipv4/i

interface RawType {
  kind: number
  vlen: number
  kflag: boolean
  name: string
  sizeOrType: number
  ptr: unknown
}

export class BtfDecoder {
  private readonly koffi = ffi().koffi as unknown as {
    decode: (p: unknown, off: number, t: string, n?: number) => unknown
  }
  private readonly fns = ffi()
  private constructor(private readonly btf: unknown) {}

  /** The BTF object with this id (from map info), or undefined when the kernel has none. */
  static load(btfId: number): BtfDecoder | undefined {
    if (!btfId) return undefined
    const ptr = ffi().btfLoadById(btfId)
    return ptr ? new BtfDecoder(ptr) : undefined
  }

  close(): void {
    this.fns.btfFree(this.btf)
  }

  private type(id: number): RawType {
    const ptr = this.fns.btfTypeById(this.btf, id)
    const [nameOff, info, sizeOrType] = this.koffi.decode(ptr, 0, 'uint32_t', 3) as number[]
    return {
      kind: (info >>> 24) & 0x1f,
      vlen: info & 0xffff,
      kflag: info >>> 31 === 1,
      name: this.fns.btfName(this.btf, nameOff) ?? '',
      sizeOrType,
      ptr,
    }
  }

  /**
   * A decoder for type id; hint is the field or map-key name, for address detection, and `rule`
   * may read an integer by its name instead (see IntRule).
   */
  decoder(id: number, hint = '', rule?: IntRule): Decoder {
    const t = this.type(id)
    switch (t.kind) {
      case KIND.TYPEDEF:
      case KIND.VOLATILE:
      case KIND.CONST:
      case KIND.RESTRICT:
        if (t.name === '__be32') return (b, o) => dotted(b, o)
        if (t.name === '__be16') return (b, o) => b.readUInt16BE(o)
        return this.decoder(t.sizeOrType, hint, rule)
      case KIND.INT: {
        const enc = (this.koffi.decode(t.ptr, 12, 'uint32_t') as number) >>> 24
        const signed = (enc & 1) === 1
        const size = t.sizeOrType
        const named = rule?.(hint, size)
        if (named) return named
        if (size === 4 && ADDRESSY.test(hint)) return (b, o) => dotted(b, o)
        if (size === 8) return (b, o) => (signed ? b.readBigInt64LE(o) : b.readBigUInt64LE(o))
        if (size === 4) return (b, o) => (signed ? b.readInt32LE(o) : b.readUInt32LE(o))
        if (size === 2) return (b, o) => (signed ? b.readInt16LE(o) : b.readUInt16LE(o))
        if (size === 1) return (b, o) => (signed ? b.readInt8(o) : b.readUInt8(o))
        return (b, o) => b.toString('hex', o, o + size)
      }
      case KIND.ENUM:
        return (b, o) => b.readInt32LE(o)
      case KIND.ARRAY: {
        const [elemType, , nelems] = this.koffi.decode(t.ptr, 12, 'uint32_t', 3) as number[]
        const elem = this.decoder(elemType, hint, rule)
        const size = this.sizeOf(elemType)
        return (b, o) => Array.from({length: nelems}, (_, i) => elem(b, o + i * size))
      }
      case KIND.STRUCT:
      case KIND.UNION: {
        const members = Array.from({length: t.vlen}, (_, i) => {
          const [nameOff, type, offset] = this.koffi.decode(t.ptr, 12 + i * 12, 'uint32_t', 3) as number[]
          const name = this.fns.btfName(this.btf, nameOff) || `field${i}`
          const bitOffset = t.kflag ? offset & 0xffffff : offset
          return {name, byte: Math.floor(bitOffset / 8), decode: this.decoder(type, name, rule)}
        })
        return (b, o) => Object.fromEntries(members.map((m) => [m.name, m.decode(b, o + m.byte)]))
      }
      default:
        return (b, o) => b.toString('hex', o)
    }
  }

  /** A struct's (or union's) members with their byte offset and size; undefined for any other type. */
  fields(id: number): Array<{name: string; byte: number; size: number}> | undefined {
    const t = this.type(id)
    if ([KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT].includes(t.kind as 8)) return this.fields(t.sizeOrType)
    if (t.kind !== KIND.STRUCT && t.kind !== KIND.UNION) return undefined
    return Array.from({length: t.vlen}, (_, i) => {
      const [nameOff, type, offset] = this.koffi.decode(t.ptr, 12 + i * 12, 'uint32_t', 3) as number[]
      const byte = Math.floor((t.kflag ? offset & 0xffffff : offset) / 8)
      return {name: this.fns.btfName(this.btf, nameOff) || `field${i}`, byte, size: this.sizeOf(type)}
    })
  }

  private sizeOf(id: number): number {
    const t = this.type(id)
    if ([KIND.TYPEDEF, KIND.VOLATILE, KIND.CONST, KIND.RESTRICT].includes(t.kind as 8)) return this.sizeOf(t.sizeOrType)
    if (t.kind === KIND.ARRAY) {
      const [elemType, , nelems] = this.koffi.decode(t.ptr, 12, 'uint32_t', 3) as number[]
      return this.sizeOf(elemType) * nelems
    }
    if (t.kind === KIND.PTR) return 8
    return t.sizeOrType
  }
}

const dotted = (b: Buffer, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`

/** JSON-safe form (bigints as strings). */
export const jsonSafe = (v: Decoded): unknown =>
  typeof v === 'bigint'
    ? v.toString()
    : Array.isArray(v)
      ? v.map(jsonSafe)
      : typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]))
        : v

/** One line for a table cell. */
export const display = (v: Decoded): string =>
  typeof v === 'object' && !Array.isArray(v)
    ? Object.entries(v)
        .map(([k, x]) => `${k}=${display(x)}`)
        .join(' ')
    : Array.isArray(v)
      ? `[${v.map(display).join(', ')}]`
      : String(v)
