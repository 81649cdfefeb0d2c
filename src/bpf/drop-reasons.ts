import {readFileSync} from 'node:fs'

// The kernel's drop reasons (enum skb_drop_reason, kernel 5.17+), read from the running kernel's
// BTF (/sys/kernel/btf/vmlinux): the numbers change between kernels (6.1 has no SKB_CONSUMED,
// later kernels insert reasons in the middle), so they are never a table of ours. The raw BTF
// is walked here type by type, as the kernel's btf.h lays it out, to find one enum by name.

export const VMLINUX_BTF = '/sys/kernel/btf/vmlinux'
const BTF_MAGIC = 0xeb9f

/** Thrown for bytes that are not BTF (or a BTF this reader cannot walk): it says where and why. */
export class BtfParseError extends Error {}

/** Bytes after struct btf_type for each kind (with vlen entries where the kind has them). */
function extraBytes(kind: number, vlen: number): number | undefined {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 4
    case 2: // PTR
    case 7: // FWD
    case 8: // TYPEDEF
    case 9: // VOLATILE
    case 10: // CONST
    case 11: // RESTRICT
    case 12: // FUNC
    case 16: // FLOAT
    case 18: // TYPE_TAG
      return 0
    case 3: // ARRAY
      return 12
    case 4: // STRUCT
    case 5: // UNION
    case 15: // DATASEC
    case 19: // ENUM64
      return 12 * vlen
    case 6: // ENUM
    case 13: // FUNC_PROTO
      return 8 * vlen
    default:
      return undefined
  }
}

/** The values of the enum called `name` in a raw BTF blob (number → C name); undefined when it has none. */
export function btfEnum(btf: Buffer, name: string): Map<number, string> | undefined {
  if (btf.length < 24 || btf.readUInt16LE(0) !== BTF_MAGIC)
    throw new BtfParseError(`not BTF: ${btf.length} bytes without the 0xeb9f magic (little-endian) at the start`)
  const hdrLen = btf.readUInt32LE(4)
  const typeOff = hdrLen + btf.readUInt32LE(8)
  const typeEnd = typeOff + btf.readUInt32LE(12)
  const strOff = hdrLen + btf.readUInt32LE(16)
  const strEnd = strOff + btf.readUInt32LE(20)
  if (typeEnd > btf.length || strEnd > btf.length)
    throw new BtfParseError(
      `truncated BTF: its header names ${Math.max(typeEnd, strEnd)} bytes, there are ${btf.length}`,
    )
  const str = (off: number): string => {
    const start = strOff + off
    const end = btf.indexOf(0, start)
    return btf.toString('latin1', start, end < 0 || end > strEnd ? strEnd : end)
  }
  for (let at = typeOff; at < typeEnd;) {
    if (at + 12 > typeEnd) throw new BtfParseError(`truncated BTF: a type cut short at byte ${at}`)
    const info = btf.readUInt32LE(at + 4)
    const kind = (info >>> 24) & 0x1f
    const vlen = info & 0xffff
    const extra = extraBytes(kind, vlen)
    if (extra === undefined) throw new BtfParseError(`BTF type of unknown kind ${kind} at byte ${at}`)
    if ((kind === 6 || kind === 19) && str(btf.readUInt32LE(at)) === name) {
      const values = new Map<number, string>()
      const size = kind === 6 ? 8 : 12
      for (let i = 0; i < vlen; i++) {
        const m = at + 12 + i * size
        values.set(btf.readInt32LE(m + 4) >>> 0, str(btf.readUInt32LE(m)))
      }
      return values
    }
    at += 12 + extra
  }
  return undefined
}

/** The reasons that are not drops: a freed packet the kernel consumed (6.1 has no CONSUMED: the first repeats). */
const NOT_DROPS = ['NOT_DROPPED_YET', 'CONSUMED']

/** enum skb_drop_reason as this kernel numbers it, by its short kernel names (NEIGH_FAILED, IP_NOROUTE...). */
export class DropReasons {
  private constructor(private readonly names: Map<number, string>) {}

  /** From raw BTF; undefined when it has no enum skb_drop_reason (a kernel before 5.17). */
  static fromBtf(btf: Buffer): DropReasons | undefined {
    const e = btfEnum(btf, 'skb_drop_reason')
    if (!e) return undefined
    return new DropReasons(new Map([...e].map(([n, c]) => [n, c.replace(/^SKB_(DROP_REASON_)?/, '')])))
  }

  /** The running kernel's reasons, or why there are none (said once by the caller). */
  static ofKernel(path = VMLINUX_BTF): {reasons: DropReasons} | {problem: string} {
    let btf: Buffer
    try {
      btf = readFileSync(path)
    } catch (err) {
      return {problem: `${path} cannot be read (${(err as Error).message}): this kernel has no BTF, so no drop reasons`}
    }
    try {
      const reasons = DropReasons.fromBtf(btf)
      return reasons
        ? {reasons}
        : {
            problem: `this kernel has no drop reasons (enum skb_drop_reason came with Linux 5.17): its drops are not shown`,
          }
    } catch (err) {
      return {problem: `${path}: ${(err as Error).message}`}
    }
  }

  /** The kernel's name for a reason number; a number this kernel does not list is shown as such. */
  name(n: number): string {
    return this.names.get(n) ?? `unknown reason ${n}`
  }

  /** Whether this kernel lists the number. */
  known(n: number): boolean {
    return this.names.has(n)
  }

  /** A reason's number by its short name; -1 when this kernel has no such reason. */
  id(name: string): number {
    for (const [n, c] of this.names) if (c === name) return n
    return -1
  }

  /** The numbers of the frees that are not drops (for the tracer to skip in the kernel); unused slots repeat the first. */
  notDrops(): number[] {
    const out: number[] = []
    for (const [n, name] of this.names) if (NOT_DROPS.includes(name)) out.push(n)
    while (out.length < NOT_DROPS.length) out.push(out[0] ?? 0)
    return out
  }

  /** Every reason this kernel has, by number. */
  all(): Array<{id: number; name: string}> {
    return [...this.names].map(([id, name]) => ({id, name}))
  }
}
