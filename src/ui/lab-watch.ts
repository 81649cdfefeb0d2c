import chalk from 'chalk'
import type {LabStep} from '../labs/catalogue.js'
import type {LabSession} from '../labs/session.js'
import {watchLoop, type WatchEvent} from '../labs/watch-loop.js'
import {renderCheck, renderSummary} from './check-report.js'
import {SlowCheckSpinner} from './slow-check-spinner.js'
import {errorText} from './render.js'

export interface WatchSessionOptions {
  session: LabSession
  step: LabStep
  poll?: boolean
  /** Resolves when the session should end (Ctrl-C, Enter in the menu, --for). */
  until: Promise<void>
  log: (line: string) => void
  /** How this session is left, said the same way everywhere it is said ("press Enter", "Ctrl-C"). */
  howToStop?: string
}

/** Watch mode on the terminal: the controller (labs/watch-loop.ts) decides, this renders. */
export async function watchSession(opts: WatchSessionOptions): Promise<void> {
  const spinner = new SlowCheckSpinner(opts.log)
  const leave = opts.howToStop ?? 'Ctrl-C'
  // The checks of the step being run: those a run stops before are counted as skipped, as in the menu.
  let planned: string[] = opts.step.checks
  const render = (e: WatchEvent): void => {
    switch (e.kind) {
      case 'watching':
        return opts.log(
          chalk.bold(`Watching ${e.dir} (${e.files.join(', ')})`) +
            chalk.dim(` — ${leave} to leave`) +
            (e.polling ? chalk.yellow(` — polling every 0.5 s: ${e.polling}`) : ''),
        )
      case 'run': {
        planned = e.step.checks
        const what = e.changed.length ? `${e.changed.join(', ')} changed` : 'starting'
        const rebuild =
          e.rebuilds === 'program'
            ? ' (rebuilding your program)'
            : e.rebuilds === 'plugin'
              ? ' (reinstalling your plugin)'
              : ''
        return opts.log(chalk.dim(`\n── ${what}${rebuild}: checking ${e.step.title} ──`))
      }
      case 'check-started':
        return spinner.start(e.title)
      case 'check-done':
        spinner.stop()
        if (e.result.status === 'pass') opts.log(renderCheck(e.result))
        return
      case 'report': {
        spinner.stop()
        const failing =
          e.report.checks.find((c) => c.status === 'fail') ?? e.report.checks.find((c) => c.status === 'skip')
        if (failing) opts.log(renderCheck(failing))
        const latency =
          e.firstResultMs !== undefined
            ? chalk.dim(` first result ${Math.round(e.firstResultMs)} ms after the change`)
            : ''
        return opts.log(renderSummary(e.report, planned) + latency)
      }
      case 'advanced':
        return opts.log(chalk.green(`Step done. Next: ${e.next.title} — save a file to check it.`))
      case 'complete':
        return opts.log(chalk.green(`Lab ${opts.session.lab.id} is complete. ${leave} to leave watch mode.`))
      case 'core-complete':
        return opts.log(
          chalk.green(`That was the last core step of lab ${opts.session.lab.id}: the core path is done. `) +
            `The next step, ${e.next.title}, is optional (stretch): watch mode stays here. ` +
            chalk.dim(
              `To take it on: ebpfcni lab ${opts.session.lab.id} --step ${e.next.id} --watch (${leave} to leave).`,
            ),
        )
      case 'not-yet':
        return opts.log(chalk.dim('Save a file to check again.'))
      case 'error': {
        spinner.stop()
        opts.log(errorText(e.error))
      }
    }
  }
  try {
    await watchLoop({
      session: opts.session,
      step: opts.step,
      poll: opts.poll,
      until: opts.until,
      onEvent: render,
    })
  } finally {
    spinner.stop()
  }
}
