import {describe, it, expect} from 'vitest'
import {flowHash, isPrime, maglevTable, mix32, populate, preference, tableValue, MAGLEV_M} from '../maglev.js'

// Step 4's table, against the paper (NSDI 2016, §3.4): pure, no kernel.

describe('the Maglev lookup table ebpfcni fills', () => {
  it("reproduces the paper's Table 1: M = 7, (offset, skip) = (3, 4), (0, 2), (3, 1), before and after B2 goes", () => {
    const names = (t: Int32Array, who: string[]) => [...t].map((i) => who[i])
    expect(
      names(
        populate(
          [
            {offset: 3, skip: 4},
            {offset: 0, skip: 2},
            {offset: 3, skip: 1},
          ],
          7,
        ),
        ['B1', 'B2', 'B3'],
      ),
    ).toEqual(['B2', 'B1', 'B2', 'B1', 'B3', 'B3', 'B1'])
    expect(
      names(
        populate(
          [
            {offset: 3, skip: 4},
            {offset: 3, skip: 1},
          ],
          7,
        ),
        ['B1', 'B3'],
      ),
    ).toEqual(['B1', 'B1', 'B1', 'B1', 'B3', 'B3', 'B3'])
  })

  it('M is a prime, and a size that is not one is refused with the reason', () => {
    expect(isPrime(MAGLEV_M)).toBe(true)
    expect(() => maglevTable(['a', 'b'], 1020)).toThrow(/must be a prime, not 1020/)
    expect(() => maglevTable(['a', 'a'])).toThrow(/a name of its own/)
  })

  it("each backend's preference list is a permutation of 0..M-1 (skip in 1..M-1)", () => {
    const {offset, skip} = preference('10.244.66.2:80')
    expect(skip).toBeGreaterThanOrEqual(1)
    expect(skip).toBeLessThan(MAGLEV_M)
    const seen = new Set(Array.from({length: MAGLEV_M}, (_, j) => (offset + j * skip) % MAGLEV_M))
    expect(seen.size).toBe(MAGLEV_M)
  })

  it('5 backends own ⌊M/N⌋ or ⌈M/N⌉ positions each; removing one changes the owner of its positions and few others', () => {
    const five = ['192.0.2.1:8080', '192.0.2.2:8080', '192.0.2.3:8080', '192.0.2.4:8080', '192.0.2.5:8080']
    const before = maglevTable(five)
    const counts = five.map((_, i) => [...before].filter((e) => e === i).length)
    for (const c of counts) expect([Math.floor(MAGLEV_M / 5), Math.ceil(MAGLEV_M / 5)]).toContain(c)
    const four = five.filter((n) => n !== '192.0.2.3:8080')
    const after = maglevTable(four)
    let changed = 0
    for (let j = 0; j < MAGLEV_M; j++) if (five[before[j]] !== four[after[j]]) changed++
    expect(changed).toBeGreaterThanOrEqual(counts[2])
    expect(changed / MAGLEV_M).toBeLessThan(0.25)
    expect(tableValue(after).readUInt32LE(4 * 7)).toBe(after[7])
  })

  it("the flow hash is murmur3's finaliser, as maglev.bpf.c computes it", () => {
    expect(mix32(0)).toBe(0)
    expect(mix32(1)).toBe(0x514e28b7)
    expect(flowHash(1, 2, 3)).toBe(mix32((1 ^ mix32((2 ^ mix32(3)) >>> 0)) >>> 0))
  })
})
