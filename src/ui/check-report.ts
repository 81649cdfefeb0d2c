import chalk from 'chalk'
import type {CheckReport, CheckResult} from '../checks/engine.js'
import {mark} from './render.js'

export function renderCheck(result: CheckResult): string {
  const head = `${mark(result.status)} ${result.status === 'fail' ? chalk.bold(result.title) : result.title} ${chalk.dim(`[${result.id}]`)}`
  const lines = [head]
  if (result.status === 'fail') {
    lines.push(`    ${chalk.red('seen:')} ${result.message}`)
    if (result.hint) lines.push(`    ${chalk.yellow('hint:')} ${result.hint}`)
  } else lines.push(`    ${chalk.dim(result.message)}`)
  return lines.join('\n')
}

/**
 * One line for a check run. `planned`: the checks the run was to make; those it did not reach (it
 * stops at the first failure) are skipped too, as the live list shows them.
 */
export function renderSummary(report: CheckReport, planned: string[] = []): string {
  const n = (s: string) => report.checks.filter((c) => c.status === s).length
  const notRun = planned.filter((id) => !report.checks.some((c) => c.id === id)).length
  const skipped = n('skip') + notRun
  const what = report.step === 'all' ? `lab ${report.lab}` : `lab ${report.lab}, step ${report.step}`
  const time = chalk.dim(`(${(report.durationMs / 1000).toFixed(1)} s)`)
  return report.passed
    ? chalk.green(`✔ ${what}: all ${n('pass')} checks pass ${time}`) + (skipped ? chalk.dim(` ${skipped} skipped`) : '')
    : chalk.red(`✘ ${what}: ${n('fail')} failing, ${n('pass')} passing, ${skipped} skipped `) + time
}
