import {describe, it, expect} from 'vitest'
import {RateTracker} from '../../src/metrics/rates.js'
import {parseExposition} from '../../src/metrics/exposition.js'
import {sparkline} from '../../src/ui/rates-view.js'
import {atomicAdds, decodeInsns} from '../../src/bpf/insns.js'

describe('rates for metrics --watch', () => {
  it('turns successive counts into per-second rates, busiest first, and survives a counter reset', () => {
    const r = new RateTracker()
    const names = new Map([['10.0.0.2', 'httpbin']])
    expect(
      r
        .update(
          new Map([
            ['10.0.0.2', 100n],
            ['10.0.0.3', 5n],
          ]),
          0,
          names,
        )
        .map((x) => x.rate),
    ).toEqual([0, 0])
    const rows = r.update(
      new Map([
        ['10.0.0.2', 300n],
        ['10.0.0.3', 15n],
      ]),
      2000,
      names,
    )
    expect(rows.map((x) => [x.addr, x.pod, x.rate])).toEqual([
      ['10.0.0.2', 'httpbin', 100],
      ['10.0.0.3', '', 5],
    ])
    // The map was replaced (reload with a new shape): counts start again; not a negative rate.
    const after = r.update(new Map([['10.0.0.2', 10n]]), 3000, names)
    expect(after[0].rate).toBe(10)
    expect(after[0].history).toEqual([100, 10])
  })

  it('draws sparklines scaled to their maximum', () => {
    expect(sparkline([0, 1, 2, 4])).toBe('▁▃▅█')
    expect(sparkline([0, 0])).toBe('▁▁')
  })
})

describe('reading the exposition back', () => {
  it('parses names, escaped labels and values; ignores comments', () => {
    const text = '# HELP x y\n# TYPE x counter\nx_total{a="1",b="say \\"hi\\""} 42\nup 1\n'
    expect(parseExposition(text)).toEqual([
      {name: 'x_total', labels: {a: '1', b: 'say "hi"'}, value: 42},
      {name: 'up', labels: {}, value: 1},
    ])
  })
})

describe('compiled instructions', () => {
  it('finds atomic adds (with and without fetch) and not plain stores', () => {
    const insn = (code: number, imm: number) => {
      const b = Buffer.alloc(8)
      b[0] = code
      b.writeInt32LE(imm, 4)
      return b
    }
    const prog = Buffer.concat([
      insn(0x79, 0),
      insn(0x07, 1),
      insn(0x7b, 0),
      insn(0xdb, 0x00),
      insn(0xc3, 0x01),
      insn(0xdb, 0xa0),
    ])
    expect(atomicAdds(decodeInsns(prog))).toBe(2) // 0xdb ADD, 0xc3 ADD|FETCH; 0xa0 is XOR
  })
})
