import {describe, it, expect} from 'vitest'
import {hexGroups} from '../../src/bpf/map-codec.js'
import {mapDumpView, paddingOnlyKeys} from '../../src/ui/map-view.js'
import type {DecodedEntry} from '../../src/bpf/map-codec.js'

// Walked (lab 3): a struct key {__u32 saddr; __u8 proto;} filled without zeroing it first. `bpf maps
// counter` showed one source twice with different counts, and KEY BYTES, one group per field, left
// out the three padding bytes: the only ones that differed.

const fields = [
  {byte: 0, size: 4},
  {byte: 4, size: 1},
]

describe('key bytes show the padding', () => {
  it("shows the compiler's padding after the last field and between fields", () => {
    expect(hexGroups(Buffer.from('0a0a0002067f0000', 'hex'), fields)).toBe('0a0a0002 06 pad:7f0000')
    expect(
      hexGroups(Buffer.from('06ffffff0a0a0002', 'hex'), [
        {byte: 0, size: 1},
        {byte: 4, size: 4},
      ]),
    ).toBe('06 pad:ffffff 0a0a0002')
    // No padding: the groups as before (lab 4's explicit pad member is a field).
    expect(
      hexGroups(Buffer.from('0a0a00030a0a000200500600', 'hex'), [
        {byte: 0, size: 4},
        {byte: 4, size: 4},
        {byte: 8, size: 2},
        {byte: 10, size: 1},
        {byte: 11, size: 1},
      ]),
    ).toBe('0a0a0003 0a0a0002 0050 06 00')
  })

  it('names keys that decode alike but differ in bytes, and says to zero the key', () => {
    const entry = (hex: string, n: number): DecodedEntry => ({
      key: {saddr: '10.10.0.2', proto: 'tcp'},
      value: String(n),
      keyHex: hex,
      valueHex: '',
      keyBytes: hexGroups(Buffer.from(hex, 'hex'), fields),
      valueBytes: '',
    })
    const entries = [entry('0a0a0002067f0000', 4), entry('0a0a000206000000', 1)]
    expect(paddingOnlyKeys(entries)).toEqual(['saddr=10.10.0.2 proto=tcp (2 keys)'])
    const view = mapDumpView({map: '/sys/fs/bpf/ebpfcni/counter', type: 'hash', keySize: 8, valueSize: 8, entries})
    expect(view).toMatch(/0a0a0002 06 pad:7f0000/)
    expect(view).toMatch(
      /keys differ only in padding bytes: saddr=10\.10\.0\.2 proto=tcp \(2 keys\)\. Zero the key \(`= \{\}` or __builtin_memset\) before filling it/,
    )
    // Keys that decode differently: no note.
    expect(paddingOnlyKeys([entry('0a0a000206000000', 1)])).toEqual([])
  })
})
