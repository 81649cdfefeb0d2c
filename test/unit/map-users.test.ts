import {describe, it, expect} from 'vitest'
import {orphanLines, usersByMap} from '../../src/bpf/map-users.js'

// Walked (lab 3): the map renamed couter; the old pin counter stayed, no program used it, and
// `metrics --once` served its frozen counts with ebpfcni_map_up 1.

describe('pinned maps no loaded program uses', () => {
  const byMap = usersByMap([
    {id: 10, name: 'xdp_prog', map_ids: [2, 3]},
    {id: 11, name: 'arp_drop'},
    {id: 12, name: 'to_pod', map_ids: [3]},
  ])

  it("indexes bpftool's map_ids by map", () => {
    expect(byMap.get(3)).toEqual([
      {id: 10, name: 'xdp_prog'},
      {id: 12, name: 'to_pod'},
    ])
    expect(byMap.get(1)).toBeUndefined()
  })

  it('names the orphan and what the pinned programs use instead', () => {
    const use = {
      pinDir: '/sys/fs/bpf/ebpfcni',
      programs: [{pin: '/sys/fs/bpf/ebpfcni/xdp_prog', name: 'xdp_prog', id: 10}],
      maps: [
        {pin: '/sys/fs/bpf/ebpfcni/counter', name: 'counter', id: 1, users: byMap.get(1) ?? []},
        {pin: '/sys/fs/bpf/ebpfcni/couter', name: 'couter', id: 2, users: byMap.get(2) ?? []},
      ],
    }
    expect(orphanLines(use)).toEqual([
      'no loaded program uses /sys/fs/bpf/ebpfcni/counter: no packet changes it any more; the programs pinned in /sys/fs/bpf/ebpfcni (xdp_prog) use couter. Once you no longer need it: rm /sys/fs/bpf/ebpfcni/counter',
    ])
    // Asked about one map: only that one.
    expect(orphanLines(use, '/sys/fs/bpf/ebpfcni/couter')).toEqual([])
    expect(orphanLines({...use, maps: use.maps.slice(1)})).toEqual([])
  })

  it('a map the workspace program declares but no program of it uses yet is not called a leftover to rm', () => {
    // Walked (lab 4 deny): the starter declares isolated for step 2; the note said to rm it.
    const use = {
      pinDir: '/sys/fs/bpf/ebpfcni',
      programs: [{pin: '/sys/fs/bpf/ebpfcni/xdp_prog', name: 'xdp_prog', id: 10}],
      maps: [{pin: '/sys/fs/bpf/ebpfcni/isolated', name: 'isolated', id: 3, users: []}],
    }
    const [line] = orphanLines(use, undefined, new Set(['isolated', 'policy']))
    expect(line).toBe(
      'no loaded program uses /sys/fs/bpf/ebpfcni/isolated yet: your program declares isolated, and none of its programs reads or writes it (a step still to write?)',
    )
    expect(line).not.toMatch(/rm /)
  })
})
