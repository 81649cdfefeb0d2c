import {describe, it, expect} from 'vitest'
import {execa} from 'execa'
import {MAP_TYPES, mapTypeName} from '../../src/bpf/map-ops.js'
import {hexGroups, labFieldRule, parseKey} from '../../src/bpf/map-codec.js'
import {renderTopology} from '../../src/ui/topology-view.js'
import type {Topology} from '../../src/topology/topology.js'

describe('map types and keys as a learner reads them', () => {
  it("names every map type the running kernel's BTF has, as bpftool does (BPF_MAP_TYPE_RINGBUF is ringbuf)", async () => {
    const raw = await execa('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'raw'], {
      timeout: 30_000,
      maxBuffer: 256 * 1024 * 1024,
    })
    const enumAt = raw.stdout.indexOf("ENUM 'bpf_map_type'")
    expect(enumAt, 'the kernel BTF has no enum bpf_map_type').toBeGreaterThan(-1)
    const kernel = new Map<number, string[]>()
    for (const line of raw.stdout.slice(enumAt).split('\n').slice(1)) {
      const m = /^\s+'BPF_MAP_TYPE_(\w+)' val=(\d+)$/.exec(line)
      if (!m) break
      kernel.set(Number(m[2]), [...(kernel.get(Number(m[2])) ?? []), m[1].toLowerCase()])
    }
    expect(kernel.get(27)).toEqual(['ringbuf'])
    for (const [value, names] of kernel) {
      // 19 and 21 have an old _DEPRECATED alias: the current name is the one shown.
      expect(names, `map type ${value}`).toContain(MAP_TYPES[value])
    }
    expect(mapTypeName(27)).toBe('ringbuf')
    expect(mapTypeName(9999)).toBe('type 9999') // a later kernel's: still not a bare number
  })

  it('reads the labs’ packet fields in network order: ports big-endian, addresses dotted, protocols named', () => {
    const b = Buffer.from('0a0a0003' + '0050' + '06', 'hex')
    expect(labFieldRule('src', 4)!(b, 0)).toBe('10.10.0.3')
    expect(labFieldRule('endpoint', 4)!(b, 0)).toBe('10.10.0.3')
    expect(labFieldRule('dport', 2)!(b, 4)).toBe(80)
    expect(labFieldRule('proto', 1)!(b, 6)).toBe('tcp')
    // Anything else keeps its C type: an identity, a count, a verdict.
    expect(labFieldRule('peer', 4)).toBeUndefined()
    expect(labFieldRule('verdict', 4)).toBeUndefined()
    expect(
      hexGroups(Buffer.from('0a0a00030a0a000200500600', 'hex'), [
        {byte: 0, size: 4},
        {byte: 4, size: 4},
        {byte: 8, size: 2},
        {byte: 10, size: 1},
        {byte: 11, size: 1},
      ]),
    ).toBe('0a0a0003 0a0a0002 0050 06 00')
    expect(hexGroups(Buffer.from('0100000000000000', 'hex'))).toBe('01000000 00000000')
    expect(() => parseKey('10.10.0.3', 12)).toThrow(/key "10.10.0.3" is not 12 bytes/)
  })

  it("topology shows a ring buffer's size, not entries it cannot have", () => {
    const t = {
      node: 'vm',
      bridges: [],
      unbridged: [],
      nodes: [],
      maps: [
        {name: 'flow_events', pin: '/sys/fs/bpf/ebpfcni/flow_events', type: 'ringbuf', entries: 0, maxEntries: 262144},
        {name: 'counter', pin: '/sys/fs/bpf/ebpfcni/counter', type: 'percpu_hash', entries: 3, maxEntries: 16384},
      ],
    } satisfies Topology
    const out = renderTopology(t)
    expect(out).toMatch(/flow_events\s+ringbuf\s+256 KiB ring/)
    expect(out).toMatch(/counter\s+percpu_hash\s+3\/16384 entries/)
  })
})
