import chalk from 'chalk'
import type {Lab, LabStep} from '../labs/catalogue.js'
import {watchFiles} from '../host/file-watch.js'
import {runChecks} from '../labs/checker.js'
import {ProgressStore} from '../host/progress.js'
import {errorMessage} from '../host/errors.js'
import {renderCheck, renderSummary} from './check-report.js'
import {SlowCheckSpinner} from './slow-check-spinner.js'
import {UserError} from '../host/errors.js'
import {LabSession} from '../labs/session.js'
import {hintLine} from './next-steps.js'

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

/**
 * Re-run the current step's checks whenever a workspace file changes (like rustlings watch):
 * show the first failing check with its hint, or move on to the next step when all pass.
 */
export async function watchSession(o: WatchSessionOptions): Promise<void> {
  const progress = o.progress ?? new ProgressStore()
  const session = new LabSession(o.lab, progress)
  let step = o.step
  let running = false
  let again: string[] | undefined
  const files = Object.keys(o.lab.starter)

  const runStep = async (changed: string[], seenAt: number): Promise<void> => {
    if (running) {
      again = changed // one more run after this one, with the newest files
      return
    }
    running = true
    try {
      const what = changed.length ? `${changed.join(', ')} changed` : 'starting'
      const rebuild = changed.includes('ebpfcni.bpf.c')
        ? ' (rebuilding your program)'
        : changed.includes('ebpfcni')
          ? ' (reinstalling your plugin)'
          : ''
      o.log(chalk.dim(`\n── ${what}${rebuild}: checking ${step.title} ──`))
      let first: number | undefined
      const spinner = new SlowCheckSpinner(o.log)
      // Cheapest first, stop at the first failure: the learner sees the next thing to fix, fast.
      const report = await runChecks({
        lab: o.lab.id,
        step: step.id,
        workspace: o.workspace,
        progress,
        untilFirstFailure: true,
        onCheck: (_id, title, r) => {
          if (!r) return spinner.start(title)
          spinner.stop()
          if (first === undefined) first = performance.now()
          if (r.status === 'pass') o.log(renderCheck(r))
        },
      }).finally(() => spinner.stop())
      const failing = report.checks.find((c) => c.status === 'fail') ?? report.checks.find((c) => c.status === 'skip')
      if (failing) o.log(renderCheck(failing))
      const latency =
        first !== undefined && changed.length
          ? chalk.dim(` first result ${Math.round(first - seenAt)} ms after the change`)
          : ''
      o.log(renderSummary(report) + latency)
      if (report.passed) {
        const next = session.nextStep(step)
        if (next) {
          step = session.moveTo(next)
          o.log(chalk.green(`Step done. Next: ${step.title} — save a file to check it.`))
        } else o.log(chalk.green(`Lab ${o.lab.id} is complete. ${o.howToStop ?? 'Ctrl-C'} to leave watch mode.`))
      } else o.log(chalk.dim('Save a file to check again.'))
    } catch (err) {
      o.log(chalk.red(`error: ${errorMessage(err)}`))
      const hint = err instanceof UserError ? hintLine(err) : undefined
      if (hint) o.log(`${chalk.yellow('hint:')} ${hint}`)
    } finally {
      running = false
      if (again) {
        const next = again
        again = undefined
        void runStep(next, performance.now())
      }
    }
  }

  const w = watchFiles(o.workspace, files, (changed) => void runStep(changed, performance.now()), {poll: o.poll})
  o.log(
    chalk.bold(`Watching ${o.workspace} (${files.join(', ')})`) +
      chalk.dim(` — ${o.howToStop ?? 'Ctrl-C'} to leave`) +
      (w.polling ? chalk.yellow(` — polling every 0.5 s: ${w.polling}`) : ''),
  )
  await runStep([], performance.now())
  await o.until
  w.stop()
  while (running) await new Promise((r) => setTimeout(r, 50))
}
