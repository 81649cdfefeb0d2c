import chalk from 'chalk'
import type {BuildResult} from '../bpf/build.js'
import type {LoadOutcome} from '../bpf/programs.js'
import {errnoName} from '../bpf/ffi.js'

export function renderBuild(r: BuildResult): string {
  const out: string[] = []
  for (const d of r.diagnostics) {
    const colour = d.severity === 'error' ? chalk.red : d.severity === 'warning' ? chalk.yellow : chalk.cyan
    out.push(`${chalk.bold(`${d.file}:${d.line}:${d.column}`)} ${colour(d.severity)}: ${d.message}`)
    for (const s of d.snippet) out.push(`  ${s.includes('^') ? chalk.green(s) : s}`)
  }
  if (r.problem) out.push(chalk.red(r.problem))
  out.push(
    r.ok
      ? chalk.green(`✔ built ${r.object}${r.warnings ? ` (${r.warnings} warning(s))` : ''}`)
      : chalk.red(`✘ ${r.errors} error(s), ${r.warnings} warning(s)`),
  )
  return out.join('\n')
}

export function renderVerifier(v: NonNullable<LoadOutcome['verifier']>): string {
  const out = [chalk.red(`✘ the verifier refused the program (${errnoName(v.errno)})`)]
  if (v.source) out.push(`  at ${chalk.bold(`${v.source.file}:${v.source.line}`)}: ${chalk.cyan(v.source.text)}`)
  out.push(chalk.dim('  the verifier said:'), ...v.lastLines.map((l) => chalk.dim(`    ${l}`)))
  if (v.explanation) out.push(`  ${chalk.yellow('why:')} ${v.explanation}`)
  return out.join('\n')
}
