import chalk from 'chalk'
import type {CheckReport, CheckResult} from '../checks/engine.js'
import {mark} from './render.js'

export function renderCheck(r: CheckResult): string {
  const head = `${mark(r.status)} ${r.status === 'fail' ? chalk.bold(r.title) : r.title} ${chalk.dim(`[${r.id}]`)}`
  const lines = [head]
  if (r.status === 'fail') {
    lines.push(`    ${chalk.red('seen:')} ${r.message}`)
    if (r.hint) lines.push(`    ${chalk.yellow('hint:')} ${r.hint}`)
  } else lines.push(`    ${chalk.dim(r.message)}`)
  return lines.join('\n')
}

export function renderSummary(report: CheckReport): string {
  const n = (s: string) => report.checks.filter((c) => c.status === s).length
  const what = report.step === 'all' ? `lab ${report.lab}` : `lab ${report.lab}, step ${report.step}`
  const time = chalk.dim(`(${(report.durationMs / 1000).toFixed(1)} s)`)
  return report.passed
    ? chalk.green(`✔ ${what}: all ${n('pass')} checks pass ${time}`) +
        (n('skip') ? chalk.dim(` ${n('skip')} skipped`) : '')
    : chalk.red(`✘ ${what}: ${n('fail')} failing, ${n('pass')} passing, ${n('skip')} skipped `) + time
}
