import chalk from 'chalk'
import type {Lab, LabStep} from '../labs/catalogue.js'
import {watchLoop, type WatchEvent} from '../labs/watch-loop.js'
import {ProgressStore} from '../host/progress.js'
import {renderCheck, renderSummary} from './check-report.js'
import {SlowCheckSpinner} from './slow-check-spinner.js'
import {errorText} from './render.js'

export interface WatchSessionOptions {
  lab: Lab
  step: LabStep
  workspace: string
  poll?: boolean
  /** Resolves when the session should end (Ctrl-C, Enter in the menu, --for). */
  until: Promise<void>
  log: (line: string) => void
  progress?: ProgressStore
  /** How this session is left, said the same way everywhere it is said ("press Enter", "Ctrl-C"). */
  howToStop?: string
}

/** Watch mode on the terminal: the controller (labs/watch-loop.ts) decides, this renders. */
export async function watchSession(o: WatchSessionOptions): Promise<void> {
  const spinner = new SlowCheckSpinner(o.log)
  const leave = o.howToStop ?? 'Ctrl-C'
  const render = (e: WatchEvent): void => {
    switch (e.kind) {
      case 'watching':
        return o.log(
          chalk.bold(`Watching ${e.dir} (${e.files.join(', ')})`) +
            chalk.dim(` — ${leave} to leave`) +
            (e.polling ? chalk.yellow(` — polling every 0.5 s: ${e.polling}`) : ''),
        )
      case 'run': {
        const what = e.changed.length ? `${e.changed.join(', ')} changed` : 'starting'
        const rebuild = e.changed.includes('ebpfcni.bpf.c')
          ? ' (rebuilding your program)'
          : e.changed.includes('ebpfcni')
            ? ' (reinstalling your plugin)'
            : ''
        return o.log(chalk.dim(`\n── ${what}${rebuild}: checking ${e.step.title} ──`))
      }
      case 'check-started':
        return spinner.start(e.title)
      case 'check-done':
        spinner.stop()
        if (e.result.status === 'pass') o.log(renderCheck(e.result))
        return
      case 'report': {
        spinner.stop()
        const failing =
          e.report.checks.find((c) => c.status === 'fail') ?? e.report.checks.find((c) => c.status === 'skip')
        if (failing) o.log(renderCheck(failing))
        const latency =
          e.firstResultMs !== undefined
            ? chalk.dim(` first result ${Math.round(e.firstResultMs)} ms after the change`)
            : ''
        return o.log(renderSummary(e.report) + latency)
      }
      case 'advanced':
        return o.log(chalk.green(`Step done. Next: ${e.next.title} — save a file to check it.`))
      case 'complete':
        return o.log(chalk.green(`Lab ${o.lab.id} is complete. ${leave} to leave watch mode.`))
      case 'not-yet':
        return o.log(chalk.dim('Save a file to check again.'))
      case 'error': {
        spinner.stop()
        o.log(errorText(e.error))
      }
    }
  }
  try {
    await watchLoop({
      lab: o.lab,
      step: o.step,
      workspace: o.workspace,
      poll: o.poll,
      until: o.until,
      progress: o.progress,
      onEvent: render,
    })
  } finally {
    spinner.stop()
  }
}
