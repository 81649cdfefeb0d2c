import chalk from 'chalk'
import {noneFailed} from '../checks/engine.js'
import type {DoctorResult} from '../doctor/doctor.js'
import {mark} from './render.js'

/** Doctor's report: a line per item (what --fix did, the fix to run), then the verdict. */
export function renderDoctor(results: DoctorResult[], opts: {fix?: boolean}): string[] {
  const lines: string[] = []
  for (const r of results) {
    const fixed = r.fixed ? chalk.green(' (fixed)') : ''
    lines.push(`${mark(r.status)} ${r.title}${fixed} ${chalk.dim(`— ${r.message}`)}`)
    if (r.fixError) lines.push(`    ${chalk.red('could not fix:')} ${r.fixError}`)
    if (r.hint) lines.push(`    ${chalk.yellow('fix:')} ${r.hint}`)
  }
  const failed = results.filter((r) => r.status === 'fail').length
  const warned = results.filter((r) => r.status === 'warn').length
  lines.push(
    '',
    noneFailed(results)
      ? chalk.green(`Ready for the labs.${warned ? ` (${warned} optional item(s) missing)` : ''}`)
      : chalk.red(`${failed} required item(s) failing.${opts.fix ? '' : ' Try: ebpfcni doctor --fix'}`),
  )
  return lines
}
