import {describe, it, expect} from 'vitest'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {btfEnum, BtfParseError, DropReasons, VMLINUX_BTF} from '../../src/bpf/drop-reasons.js'
import {decodeKernelDrop, encodeKernelDrop, KernelDropDecodeError} from '../../src/bpf/kernel-drops.js'
import {kernelDropFlow} from '../../src/observe/kernel-drops.js'
import {flowLine} from '../../src/observe/flow-line.js'

// observe --kernel names the kernel's drop reasons from the running kernel's BTF, never from a
// table of ours. Here: a BTF blob made by hand (an enum and the types around it), the running
// kernel's own, and inputs that are not what they claim to be.

/** A minimal BTF: an int, a struct with one member, and `enum name {values}`. */
function btfWith(name: string, values: Array<[string, number]>, opts: {kind?: number} = {}): Buffer {
  const strs = ['', 'int', 'other', 'x', name, ...values.map(([n]) => n)]
  const off: number[] = []
  let at = 0
  for (const s of strs) {
    off.push(at)
    at += Buffer.byteLength(s) + 1
  }
  const strBuf = Buffer.concat(strs.map((s) => Buffer.from(`${s}\0`)))
  const u32 = (...n: number[]) => Buffer.from(new Uint32Array(n).buffer)
  const types = Buffer.concat([
    u32(off[1], 1 << 24, 4, 32), // INT "int", 4 bytes, 32 bits
    u32(off[2], (4 << 24) | 1, 4, off[3], 1, 0), // STRUCT "other" { int x; }
    u32(off[4], ((opts.kind ?? 6) << 24) | values.length, 4),
    ...values.map(([, v], i) => u32(off[5 + i], v)),
  ])
  const header = Buffer.alloc(24)
  header.writeUInt16LE(0xeb9f, 0)
  header[2] = 1
  header.writeUInt32LE(24, 4)
  header.writeUInt32LE(0, 8)
  header.writeUInt32LE(types.length, 12)
  header.writeUInt32LE(types.length, 16)
  header.writeUInt32LE(strBuf.length, 20)
  return Buffer.concat([header, types, strBuf])
}

const FAKE: Array<[string, number]> = [
  ['SKB_NOT_DROPPED_YET', 0],
  ['SKB_CONSUMED', 1],
  ['SKB_DROP_REASON_NOT_SPECIFIED', 2],
  ['SKB_DROP_REASON_NEIGH_FAILED', 7],
]

describe('drop reasons from BTF', () => {
  it('reads an enum by name from raw BTF, past the types before it, with the kernel names shortened', () => {
    expect(btfEnum(btfWith('skb_drop_reason', FAKE), 'skb_drop_reason')?.get(7)).toBe('SKB_DROP_REASON_NEIGH_FAILED')
    const r = DropReasons.fromBtf(btfWith('skb_drop_reason', FAKE))!
    expect(r.name(7)).toBe('NEIGH_FAILED')
    expect(r.name(1)).toBe('CONSUMED')
    expect(r.notDrops()).toEqual([0, 1])
    expect(r.id('NOT_SPECIFIED')).toBe(2)
    expect(r.id('NO_SOCKET')).toBe(-1)
  })

  it('a number the kernel does not list is shown as that number, labelled unknown, never as another name', () => {
    const r = DropReasons.fromBtf(btfWith('skb_drop_reason', FAKE))!
    expect(r.name(999)).toBe('unknown reason 999')
    const d = decodeKernelDrop(encodeKernelDrop({src: '10.9.0.2', dst: '10.9.0.3', dport: 4242, reason: 999}), r)
    expect(d).toMatchObject({reason: 'unknown reason 999', reasonId: 999, known: false, proto: 'UDP', dport: 4242})
    const f = kernelDropFlow(d, {netns: new Map(), links: new Map(), pods: []}, 0)
    expect(flowLine(f, {color: false})).toMatch(/kernel +DROPPED +unknown reason 999 \(unknown to this kernel's BTF\)/)
  })

  it('a kernel without the enum (before 5.17) says so once, in words', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-btf-'))
    try {
      writeFileSync(join(dir, 'old'), btfWith('some_other_enum', FAKE))
      expect(DropReasons.ofKernel(join(dir, 'old'))).toEqual({
        problem: expect.stringMatching(/no drop reasons \(enum skb_drop_reason came with Linux 5\.17\)/),
      })
      expect(DropReasons.ofKernel(join(dir, 'missing'))).toEqual({problem: expect.stringMatching(/has no BTF/)})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('bytes that are not BTF, cut short, or of a kind it cannot walk are refused with where and why', () => {
    expect(() => btfEnum(Buffer.from('not btf at all, just text....'), 'x')).toThrow(BtfParseError)
    expect(() => btfEnum(Buffer.from('not btf at all, just text....'), 'x')).toThrow(/without the 0xeb9f magic/)
    const good = btfWith('skb_drop_reason', FAKE)
    expect(() => btfEnum(good.subarray(0, 40), 'x')).toThrow(/truncated BTF/)
    expect(() => btfEnum(btfWith('skb_drop_reason', FAKE, {kind: 30}), 'skb_drop_reason')).toThrow(
      /unknown kind 30 at byte/,
    )
  })

  it('a record of another size or version is not decoded as a drop', () => {
    const r = DropReasons.fromBtf(btfWith('skb_drop_reason', FAKE))!
    expect(() => decodeKernelDrop(Buffer.alloc(32), r)).toThrow(KernelDropDecodeError)
    expect(() => decodeKernelDrop(Buffer.alloc(32), r)).toThrow(/of 32 bytes: kernel_drops.bpf.c writes 40/)
    const v = encodeKernelDrop({reason: 7})
    v[36] = 9
    expect(() => decodeKernelDrop(v, r)).toThrow(/version 9/)
  })

  it("the running kernel's BTF has the reasons observe --kernel names", () => {
    const k = DropReasons.ofKernel(VMLINUX_BTF)
    if ('problem' in k) throw new Error(k.problem)
    const names = k.reasons.all().map((r) => r.name)
    for (const n of ['NEIGH_FAILED', 'IP_RPFILTER', 'PKT_TOO_BIG', 'NO_SOCKET', 'NOT_SPECIFIED'])
      expect(names).toContain(n)
    expect(k.reasons.notDrops().map((n) => k.reasons.name(n))).toContain('NOT_DROPPED_YET')
  })
})
