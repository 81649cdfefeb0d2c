import {describe, it, expect} from 'vitest'
import {renderEarlierStepFails, renderSummary} from '../../src/ui/check-report.js'
import type {CheckReport} from '../../src/checks/engine.js'
import chalk from 'chalk'

// Walked (lab 3, the map renamed couter): `check 3 --step metrics` skipped both checks ('needs a map
// named counter') and summed up '✘ … 0 failing, 0 passing, 2 skipped': a ✘ over "0 failing", and
// nothing of what step counter's check saw ('its maps: couter').

const withLevel = <T>(level: 0 | 1, f: () => T): T => {
  const before = chalk.level
  chalk.level = level
  try {
    return f()
  } finally {
    chalk.level = before
  }
}

const skip = (id: string) => ({
  id,
  title: id,
  status: 'skip' as const,
  message: 'needs a map named counter (map.counter.pinned)',
})
const report = (over: Partial<CheckReport> = {}): CheckReport => ({
  lab: 3,
  step: 'metrics',
  passed: false,
  durationMs: 7100,
  checks: [skip('metrics.scrape'), skip('metrics.valid')],
  ...over,
})
const blocker = {
  step: 'counter',
  check: 'map.counter.pinned',
  message: 'your program has no map named counter; its maps: couter',
}

describe('the summary of a step whose checks were all skipped', () => {
  it('names the earlier step check that blocks it and repeats what that check saw', () => {
    const line = withLevel(0, () => renderSummary(report({earlierStepFails: blocker})))
    expect(line).toBe(
      '✘ lab 3, step metrics: blocked by map.counter.pinned (step counter): your program has no map named counter; its maps: couter. 2 checks skipped; for that step: ebpfcni check 3 --step counter (7.1 s)',
    )
    expect(line).not.toMatch(/0 failing/)
    // The summary says it: no second line under it.
    expect(renderEarlierStepFails(report({earlierStepFails: blocker}))).toBeUndefined()
  })

  it('without an earlier failure found, says none failed and quotes the first skip', () => {
    const line = withLevel(0, () => renderSummary(report()))
    expect(line).toBe(
      '✘ lab 3, step metrics: not passed: none failing, 2 checks skipped (metrics.scrape: needs a map named counter (map.counter.pinned)) (7.1 s)',
    )
  })

  it('a failing run keeps its counts, and a passed run keeps the earlier-step line', () => {
    const failing = report({
      checks: [{id: 'metrics.scrape', title: 't', status: 'fail', message: 'x'}, skip('metrics.valid')],
    })
    expect(withLevel(0, () => renderSummary(failing))).toMatch(/1 failing, 0 passing, 1 skipped/)
    const passed = report({passed: true, checks: [], earlierStepFails: blocker})
    expect(renderEarlierStepFails(passed)).toMatch(
      /step counter fails again on this work \(map\.counter\.pinned: .*couter\)/,
    )
  })
})
