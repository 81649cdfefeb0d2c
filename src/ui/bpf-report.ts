import chalk from 'chalk'
import type {BuildResult} from '../bpf/build.js'
import type {LoadOutcome} from '../bpf/programs.js'
import {errnoName} from '../bpf/ffi.js'

export function renderBuild(build: BuildResult): string {
  const out: string[] = []
  for (const d of build.diagnostics) {
    const colour = d.severity === 'error' ? chalk.red : d.severity === 'warning' ? chalk.yellow : chalk.cyan
    out.push(`${chalk.bold(`${d.file}:${d.line}:${d.column}`)} ${colour(d.severity)}: ${d.message}`)
    for (const s of d.snippet) out.push(`  ${s.includes('^') ? chalk.green(s) : s}`)
  }
  if (build.problem) out.push(chalk.red(build.problem))
  out.push(
    build.ok
      ? chalk.green(`✔ built ${build.object}${build.warnings ? ` (${build.warnings} warning(s))` : ''}`)
      : chalk.red(`✘ ${build.errors} error(s), ${build.warnings} warning(s)`),
  )
  return out.join('\n')
}

export function renderVerifier(verifier: NonNullable<LoadOutcome['verifier']>): string {
  const out = [chalk.red(`✘ the verifier refused the program (${errnoName(verifier.errno)})`)]
  if (verifier.source)
    out.push(
      `  at ${chalk.bold(`${verifier.source.file}:${verifier.source.line}`)}: ${chalk.cyan(verifier.source.text)}`,
    )
  out.push(chalk.dim('  the verifier said:'), ...verifier.lastLines.map((l) => chalk.dim(`    ${l}`)))
  if (verifier.explanation) out.push(`  ${chalk.yellow('why:')} ${verifier.explanation}`)
  return out.join('\n')
}

/** `bpf load`'s warning when the object predates its source's last edit. */
export function renderOlderObject(object: string, source: string): string {
  return chalk.yellow(
    `warning: ${source} is newer than ${object} (edited since the last build): this loads the program as it was built; to load your edit: ebpfcni bpf build first`,
  )
}
