// Reading compiled BPF instructions (8 bytes each: opcode, regs, offset, imm), for checks
// that need to know *how* a program does something, not only what it returns.

const BPF_STX = 0x03
const BPF_ATOMIC = 0xc0
const BPF_W = 0x00
const BPF_DW = 0x18
const BPF_ADD = 0x00

export interface Insn {
  code: number
  imm: number
}

export function decodeInsns(bytes: Buffer): Insn[] {
  const out: Insn[] = []
  for (let off = 0; off + 8 <= bytes.length; off += 8) out.push({code: bytes[off], imm: bytes.readInt32LE(off + 4)})
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

/**
 * Map inserts (bpf_map_update_elem) after which the program never looks a key up again: the
 * `insert 1 with BPF_NOEXIST` pattern. When two CPUs see a new key at once, the losing insert
 * fails and its packet is counted nowhere; inserting 0, looking up again and adding counts both.
 */
export function insertsNotLookedUpAgain(insns: Insn[]): number {
  const calls = insns.filter((i) => i.code === BPF_CALL).map((i) => i.imm)
  return calls.filter((h, k) => h === HELPER_MAP_UPDATE_ELEM && !calls.slice(k + 1).includes(HELPER_MAP_LOOKUP_ELEM))
    .length
}
