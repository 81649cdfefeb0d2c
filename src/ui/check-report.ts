import chalk from 'chalk'
import type {CheckReport, CheckResult} from '../checks/engine.js'
import type {Lab, LabStep} from '../labs/catalogue.js'
import {mark} from './render.js'

/** `later`: a failure of a step after the one being worked on: its hint waits for that step. */
export function renderCheck(result: CheckResult, later?: {lab: number; step: LabStep}): string {
  const head = `${mark(result.status)} ${result.status === 'fail' ? chalk.bold(result.title) : result.title} ${chalk.dim(`[${result.id}]`)}`
  const lines = [head]
  if (result.status === 'fail') {
    lines.push(`    ${chalk.red('seen:')} ${result.message}`)
    if (later)
      lines.push(
        chalk.dim(
          `    (step ${later.step.id}, ${later.step.level}: a later step; its hint: ebpfcni check ${later.lab} --step ${later.step.id})`,
        ),
      )
    else if (result.hint) lines.push(`    ${chalk.yellow('hint:')} ${result.hint}`)
  } else lines.push(`    ${chalk.dim(result.message)}`)
  return lines.join('\n')
}

/**
 * A whole-lab check's lines, check by check. The first failure names the step being worked on;
 * failures of later steps (stretch work, usually) show what was seen but not their hints, which
 * would lead away from that step's cause.
 */
export function wholeLabRenderer(lab: Lab): {
  render: (result: CheckResult) => string
  focus: () => LabStep | undefined
} {
  const stepOf = (id: string) => lab.steps.find((s) => s.checks.includes(id))
  let focus: LabStep | undefined
  return {
    render(result) {
      const step = stepOf(result.id)
      if (result.status === 'fail' && !focus) focus = step
      const later = result.status === 'fail' && step && focus && step !== focus ? {lab: lab.id, step} : undefined
      return renderCheck(result, later)
    },
    focus: () => focus,
  }
}

/** A check's message quoted whole up to 400 characters, else cut at a word (walked: '…vari…' read as garbage). */
const quoted = (message: string): string =>
  message.length > 400 ? `${message.slice(0, 400).replace(/\s+\S*$/, '')} …` : message

/**
 * One line for a check run. `planned`: the checks the run was to make; those it did not reach (it
 * stops at the first failure) are skipped too, as the live list shows them. A run that did not
 * pass with none failing was skipped whole: the line says by what, never "✘ … 0 failing" alone.
 */
export function renderSummary(report: CheckReport, planned: string[] = [], lab?: Lab): string {
  const n = (s: string) => report.checks.filter((c) => c.status === s).length
  const notRun = planned.filter((id) => !report.checks.some((c) => c.id === id)).length
  const skipped = n('skip') + notRun
  const what = report.step === 'all' ? `lab ${report.lab}` : `lab ${report.lab}, step ${report.step}`
  const time = chalk.dim(`(${(report.durationMs / 1000).toFixed(1)} s)`)
  if (report.passed)
    return (
      chalk.green(`✔ ${what}: all ${n('pass')} checks pass ${time}`) + (skipped ? chalk.dim(` ${skipped} skipped`) : '')
    )
  if (n('fail') === 0 && skipped > 0) return chalk.red(`✘ ${what}: ${blockedBy(report, skipped)} `) + time
  // A whole lab: failures of stretch steps are optional work (walked: "1 failing" after the core was done).
  const stretch = lab ? stretchFailures(lab, report) : 0
  if (stretch > 0 && stretch === n('fail'))
    return (
      chalk.yellow(
        `✘ ${what}: ${n('fail')} failing, all in stretch steps (optional), ${n('pass')} passing, ${skipped} skipped `,
      ) + time
    )
  const optional = stretch ? ` (${stretch} in stretch steps, optional)` : ''
  return chalk.red(`✘ ${what}: ${n('fail')} failing${optional}, ${n('pass')} passing, ${skipped} skipped `) + time
}

/**
 * How many of a whole-lab run's failing checks belong to stretch steps only. A check a core step also runs
 * (lab 3's map.counter.counts in counter and percpu, lab 4's policy.ports in networkpolicy and conntrack) is
 * core work when it fails: calling it optional would call an unfinished core step done.
 */
export function stretchFailures(lab: Pick<Lab, 'steps'>, report: Pick<CheckReport, 'step' | 'checks'>): number {
  if (report.step !== 'all') return 0
  const core = new Set(lab.steps.filter((s) => s.level !== 'stretch').flatMap((s) => s.checks))
  const stretch = new Set(lab.steps.filter((s) => s.level === 'stretch').flatMap((s) => s.checks))
  return report.checks.filter((c) => c.status === 'fail' && stretch.has(c.id) && !core.has(c.id)).length
}

/** Why a run with no failure did not pass: the earlier step's check that fails on this work, else the first skip's reason. */
function blockedBy(report: CheckReport, skipped: number): string {
  const checks = `${skipped} check${skipped === 1 ? '' : 's'} skipped`
  const e = report.earlierStepFails
  if (e)
    return `blocked by ${e.check} (step ${e.step}): ${quoted(e.message)}. ${checks}; for that step: ebpfcni check ${report.lab} --step ${e.step}`
  const first = report.checks.find((c) => c.status === 'skip')
  return `not passed: none failing, ${checks}${first ? ` (${first.id}: ${quoted(first.message)})` : ''}`
}

/** One line when a step passed but an earlier step's check now fails on the same work (a blocked step's summary says it). */
export function renderEarlierStepFails(report: CheckReport): string | undefined {
  const e = report.earlierStepFails
  if (!e || !report.passed) return undefined
  return chalk.yellow(
    `! step ${e.step} fails again on this work (${e.check}: ${quoted(e.message)}): ebpfcni check ${report.lab} --step ${e.step}`,
  )
}
