import {describe, it, expect} from 'vitest'
import {describeRuleRemoval} from '../../src/ui/policy-removal.js'
import type {RuleRemoval} from '../../src/policy/service.js'

// policy remove, for an entry the maps did not hold: it says what the pin's time established (a map
// pinned after the store's last write, or not), never a reload it did not see (issue 32).
const removal = (pinnedAt: number, storeChangedAt: number): RuleRemoval => ({
  written: 0,
  removed: 0,
  mode: 'ip-pair',
  endpoints: 2,
  reattached: [],
  rule: {from: 'sleep', to: 'httpbin', verdict: 'deny'},
  entry: {map: 'policy', key: '10.0.0.2>10.0.0.3', before: null, after: null, keptBy: [], pinnedAt, storeChangedAt},
})
const at = (h: number, m: number, s: number) => new Date(2026, 0, 1, h, m, s).getTime()

describe('policy remove: an entry the maps did not hold', () => {
  it('a map pinned after the store last wrote its entries: pinned anew, so empty', () => {
    expect(describeRuleRemoval(removal(at(10, 5, 0), at(10, 0, 0)))).toBe(
      'removed the rule deny sleep → httpbin from the store; the maps held no entry for it (10.0.0.2 → 10.0.0.3 in policy): nothing to delete there (policy was pinned at 10:05:00, after the store last wrote its entries at 10:00:00: a map pinned anew starts empty)',
    )
  })
  it('a map pinned before: no reload is named', () => {
    const said = describeRuleRemoval(removal(at(9, 0, 0), at(10, 0, 0)))
    expect(said).toMatch(
      /\(policy was pinned at 09:00:00, before the store last wrote its entries at 10:00:00: not emptied by a reload since\)$/,
    )
    expect(said).not.toMatch(/loaded again|anew/)
  })
})
