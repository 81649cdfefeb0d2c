import chalk from 'chalk'
import type {AutoOutcome, AutoStepResult} from '../labs/auto.js'
import {mark, table} from './render.js'

export function renderAutoStep(step: AutoStepResult): string {
  const head = `${mark(step.passed ? 'pass' : 'fail')} lab ${step.lab} ${step.title} ${chalk.dim(`(${(step.durationMs / 1000).toFixed(1)} s)`)}`
  return [
    head,
    ...step.failing.map((f) => `    ${f.status === 'fail' ? chalk.red(f.id) : chalk.dim(f.id)}: ${f.message}`),
  ].join('\n')
}

/** One screen: a row per lab, then the verdict. */
export function renderAutoSummary(outcome: AutoOutcome): string {
  const labs = [...new Set(outcome.steps.map((s) => s.lab))]
  const rows = labs.map((lab) => {
    const steps = outcome.steps.filter((s) => s.lab === lab)
    const ok = steps.filter((s) => s.passed).length
    const secs = steps.reduce((a, s) => a + s.durationMs, 0) / 1000
    const failing = steps.flatMap((s) => s.failing.filter((f) => f.status === 'fail').map((f) => f.id))
    return [
      `lab ${lab}`,
      `${mark(ok === steps.length ? 'pass' : 'fail')} ${ok}/${steps.length} steps`,
      `${secs.toFixed(1)} s`,
      failing.join(', ') || '-',
    ]
  })
  const verdict = outcome.passed
    ? chalk.green(`✔ every step passed in ${(outcome.durationMs / 1000).toFixed(1)} s: this machine is ready`)
    : chalk.red(
        `✘ ${outcome.steps.filter((s) => !s.passed).length} step(s) failed${outcome.resetProblems.length ? `; reset problems: ${outcome.resetProblems.join('; ')}` : ''}`,
      )
  return `\n${table(['LAB', 'STEPS', 'TIME', 'FAILING CHECKS'], rows)}\n${verdict}`
}
