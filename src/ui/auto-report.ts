import chalk from 'chalk'
import type {AutoOutcome, AutoStepResult} from '../labs/auto.js'
import {mark, table} from './render.js'

export function renderAutoStep(r: AutoStepResult): string {
  const head = `${mark(r.passed ? 'pass' : 'fail')} lab ${r.lab} ${r.title} ${chalk.dim(`(${(r.durationMs / 1000).toFixed(1)} s)`)}`
  return [
    head,
    ...r.failing.map((f) => `    ${f.status === 'fail' ? chalk.red(f.id) : chalk.dim(f.id)}: ${f.message}`),
  ].join('\n')
}

/** One screen: a row per lab, then the verdict. */
export function renderAutoSummary(o: AutoOutcome): string {
  const labs = [...new Set(o.steps.map((s) => s.lab))]
  const rows = labs.map((lab) => {
    const steps = o.steps.filter((s) => s.lab === lab)
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
  const verdict = o.passed
    ? chalk.green(`✔ every step passed in ${(o.durationMs / 1000).toFixed(1)} s: this machine is ready`)
    : chalk.red(
        `✘ ${o.steps.filter((s) => !s.passed).length} step(s) failed${o.resetProblems.length ? `; reset problems: ${o.resetProblems.join('; ')}` : ''}`,
      )
  return `\n${table(['LAB', 'STEPS', 'TIME', 'FAILING CHECKS'], rows)}\n${verdict}`
}
