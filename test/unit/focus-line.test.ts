import {describe, it, expect} from 'vitest'
import {renderFocus} from '../../src/ui/focus-line.js'
import {renderSummary, stretchFailures} from '../../src/ui/check-report.js'
import chalk from 'chalk'
import {getLab} from '../../src/labs/catalogue.js'
import type {CheckReport, CheckResult} from '../../src/checks/engine.js'

// Walked: `check 1` after the core was done said "✘ 1 failing … first step with a failure: production",
// read as unfinished work; production is a stretch step.

describe('the line naming the first step with a failure', () => {
  const lab = getLab(1)
  const step = (id: string) => lab.steps.find((s) => s.id === id)!
  const report = (failing: string[]): CheckReport =>
    ({
      lab: 1,
      step: 'all',
      passed: failing.length === 0,
      durationMs: 1,
      checks: lab.steps
        .flatMap((s) => s.checks)
        .map((id) => ({id, title: id, status: failing.includes(id) ? 'fail' : 'pass', message: ''}) as CheckResult),
    }) as CheckReport

  it('says a stretch step is optional and that no core check fails', () => {
    const line = renderFocus(lab, report(['cni.ipam.unique']), step('production'))
    expect(line).toBe(
      'first failing step: production (stretch, optional); every check of the core steps skeleton, add and del passes. For it alone: ebpfcni check 1 --step production',
    )
  })

  it('says "passes" only of core checks that ran and passed', () => {
    // Walked: "optional: no check of the core steps counter, metrics fails" was hard to parse.
    const r = report(['cni.ipam.unique'])
    r.checks = r.checks
      .filter((c) => c.id !== 'cni.add.route')
      .map((c) => (c.id === 'plugin.present' ? {...c, status: 'skip'} : c))
    expect(renderFocus(lab, r, step('production'))).toMatch(
      /^first failing step: production \(stretch, optional\); no check of the core steps skeleton, add and del fails \(1 skipped, 1 not run\)\. /,
    )
  })

  it('sends the learner to a failing core step rather than the stretch one before it', () => {
    const stretchFirst = {...lab, steps: [step('production'), step('skeleton'), step('add'), step('del')]}
    const line = renderFocus(stretchFirst, report(['cni.ipam.unique', 'cni.add.route']), step('production'))
    expect(line).toMatch(/production \(stretch, optional\); first failing core step: add\. .*--step add$/)
  })

  it('says so when every step of the lab is stretch', () => {
    const allStretch = {...lab, steps: [step('production')]}
    expect(renderFocus(allStretch, report(['cni.ipam.unique']), step('production'))).toMatch(
      /^first failing step: production \(stretch, optional\); every step of this lab is stretch\. /,
    )
  })

  it('names a core step as before', () => {
    expect(renderFocus(lab, report(['cni.add.route']), step('add'))).toBe(
      'first failing step: add. For it alone: ebpfcni check 1 --step add',
    )
  })

  it("the summary counts a whole-lab run's stretch failures as optional", () => {
    const before = chalk.level
    chalk.level = 0
    try {
      expect(renderSummary(report(['cni.ipam.unique']), [], lab)).toMatch(
        /^✘ lab 1: 1 failing, all in stretch steps \(optional\), 18 passing, 0 skipped /,
      )
      expect(renderSummary(report(['cni.ipam.unique', 'cni.add.route']), [], lab)).toMatch(
        /^✘ lab 1: 2 failing \(1 in stretch steps, optional\), 17 passing/,
      )
      expect(renderSummary(report(['cni.add.route']), [], lab)).toMatch(/^✘ lab 1: 1 failing, 18 passing/)
    } finally {
      chalk.level = before
    }
  })

  it('a failing check that a core step runs too is core work, never "all in stretch steps" (lab 3, lab 4 share ids)', () => {
    // Review: lab 3's map.counter.counts runs in counter (core) and percpu (stretch); failing in a whole-lab run,
    // it was counted optional and the summary called the unfinished core step done.
    const lab3 = getLab(3)
    const shared = lab3.steps
      .find((s) => s.id === 'counter')!
      .checks.find((id) => lab3.steps.some((s) => s.level === 'stretch' && s.checks.includes(id)))
    expect(shared, 'lab 3 has a check id shared by a core and a stretch step').toBeDefined()
    const r = {
      lab: 3,
      step: 'all',
      passed: false,
      durationMs: 1,
      checks: [...new Set(lab3.steps.flatMap((s) => s.checks))].map(
        (id) => ({id, title: id, status: id === shared ? 'fail' : 'pass', message: ''}) as CheckResult,
      ),
    } as CheckReport
    expect(stretchFailures(lab3, r)).toBe(0)
    const before = chalk.level
    chalk.level = 0
    try {
      expect(renderSummary(r, [], lab3)).toMatch(/^✘ lab 3: 1 failing, \d+ passing/)
    } finally {
      chalk.level = before
    }
  })
})
