// Reading compiled BPF instructions (8 bytes each: opcode, regs, offset, imm), for checks
// that need to know *how* a program does something, not only what it returns.

const BPF_STX = 0x03
const BPF_ATOMIC = 0xc0
const BPF_W = 0x00
const BPF_DW = 0x18
const BPF_ADD = 0x00

export interface Insn {
  code: number
  /** Destination register (the low 4 bits of the second byte). */
  dst: number
  imm: number
}

export function decodeInsns(bytes: Buffer): Insn[] {
  const out: Insn[] = []
  for (let off = 0; off + 8 <= bytes.length; off += 8)
    out.push({code: bytes[off], dst: bytes[off + 1] & 0x0f, imm: bytes.readInt32LE(off + 4)})
  return out
}

/** Atomic adds to memory (lock xadd: __sync_fetch_and_add / __atomic_fetch_add), 32 or 64 bit. */
export function atomicAdds(insns: Insn[]): number {
  const codes = new Set([BPF_STX | BPF_ATOMIC | BPF_DW, BPF_STX | BPF_ATOMIC | BPF_W])
  // imm holds the operation; BPF_FETCH (0x01) only says whether the old value is returned.
  return insns.filter((i) => codes.has(i.code) && (i.imm & ~0x01) === BPF_ADD).length
}

const BPF_CALL = 0x85 // BPF_JMP | BPF_CALL; imm is the helper's id
const HELPER_MAP_LOOKUP_ELEM = 1
const HELPER_MAP_UPDATE_ELEM = 2

/** bpf_map_update_elem's flags, by value. */
export const UPDATE_FLAGS = {0: 'BPF_ANY', 1: 'BPF_NOEXIST', 2: 'BPF_EXIST'} as const
export type UpdateFlag = (typeof UPDATE_FLAGS)[keyof typeof UPDATE_FLAGS]

/**
 * Map inserts (bpf_map_update_elem) after which the program never looks a key up again: the
 * `insert 1` pattern, with the flags each passes when the program shows them (undefined when not).
 * When two CPUs see a new key at once, both insert: with BPF_NOEXIST the second fails, with BPF_ANY
 * it replaces the first; inserting 0, looking up again and adding counts both.
 */
export function insertsNotLookedUpAgain(insns: Insn[]): Array<UpdateFlag | undefined> {
  const calls = insns.flatMap((i, at) => (i.code === BPF_CALL ? [{helper: i.imm, at}] : []))
  return calls
    .filter(
      (c, k) =>
        c.helper === HELPER_MAP_UPDATE_ELEM && !calls.slice(k + 1).some((l) => l.helper === HELPER_MAP_LOOKUP_ELEM),
    )
    .map((c) => constantR4(insns, c.at))
}

const BPF_MOV64_K = 0xb7
const BPF_MOV32_K = 0xb4
const BPF_CLASS = 0x07
const WRITES_DST = new Set([0x00, 0x01, 0x04, 0x07]) // LD, LDX, ALU, ALU64

/**
 * The flags argument (r4) of the call at `at`, when the instructions just before it set r4 to a
 * constant (clang puts `r4 = K` next to the call); undefined when anything else writes r4 first,
 * a call clobbers it, or the constant is no flag.
 */
function constantR4(insns: Insn[], at: number): UpdateFlag | undefined {
  for (let k = at - 1; k >= 0; k--) {
    const i = insns[k]
    if (i.code === BPF_CALL) return undefined
    if (i.dst !== 4 || !WRITES_DST.has(i.code & BPF_CLASS)) continue
    if (i.code !== BPF_MOV64_K && i.code !== BPF_MOV32_K) return undefined
    return UPDATE_FLAGS[i.imm as keyof typeof UPDATE_FLAGS]
  }
  return undefined
}
