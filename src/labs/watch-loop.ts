import type {LabStep} from './catalogue.js'
import {watchFiles} from '../host/file-watch.js'
import type {LabSession} from './session.js'
import {labModule} from './registry.js'
import type {CheckReport, CheckResult} from '../checks/engine.js'

// Watch mode's controller (like rustlings watch): re-run the current step's checks whenever a
// workspace file changes, cheapest first and stopping at the first failure, and move on to the
// next step when all pass; at the end of the core path it stops there (the rest is optional).
// It decides; ui/lab-watch.ts renders what it reports.

export type WatchEvent =
  | {kind: 'watching'; dir: string; files: string[]; polling?: string}
  /** rebuilds: which of the lab's files the change makes the checks rebuild or reinstall. */
  | {kind: 'run'; step: LabStep; changed: string[]; rebuilds?: 'program' | 'plugin'}
  | {kind: 'check-started'; title: string}
  | {kind: 'check-done'; result: CheckResult}
  /** firstResultMs: from the file change to the first verdict (undefined at start-up). */
  | {kind: 'report'; report: CheckReport; firstResultMs?: number}
  | {kind: 'advanced'; next: LabStep}
  /** The last core step passed and a stretch step follows: watch mode does not move on by itself. */
  | {kind: 'core-complete'; next: LabStep}
  | {kind: 'complete'}
  | {kind: 'not-yet'}
  | {kind: 'error'; error: unknown}

export interface WatchLoopOptions {
  session: LabSession
  step: LabStep
  poll?: boolean
  /** Resolves when the loop should end (Ctrl-C, Enter in the menu, --for). */
  until: Promise<void>
  onEvent: (e: WatchEvent) => void
}

export async function watchLoop(opts: WatchLoopOptions): Promise<void> {
  const {session} = opts
  let step = opts.step
  let running = false
  let again: string[] | undefined
  const files = Object.keys(session.lab.starter)
  const roles = (await labModule(session.lab.id))?.files ?? {}
  const rebuilds = (changed: string[]): 'program' | 'plugin' | undefined =>
    roles.program && changed.includes(roles.program)
      ? 'program'
      : roles.plugin && changed.includes(roles.plugin)
        ? 'plugin'
        : undefined

  const runStep = async (changed: string[], seenAt: number): Promise<void> => {
    if (running) {
      again = changed // one more run after this one, with the newest files
      return
    }
    running = true
    try {
      opts.onEvent({kind: 'run', step, changed, rebuilds: rebuilds(changed)})
      let first: number | undefined
      const report = await session.checkStep(step, (_id, title, r) => {
        if (!r) return opts.onEvent({kind: 'check-started', title})
        first ??= performance.now()
        opts.onEvent({kind: 'check-done', result: r})
      })
      opts.onEvent({
        kind: 'report',
        report,
        firstResultMs: first !== undefined && changed.length ? first - seenAt : undefined,
      })
      if (!report.passed) opts.onEvent({kind: 'not-yet'})
      else {
        const next = session.nextStep(step)
        if (next && step.level === 'core' && next.level === 'stretch') opts.onEvent({kind: 'core-complete', next})
        else if (next) {
          step = session.moveTo(next)
          opts.onEvent({kind: 'advanced', next})
        } else opts.onEvent({kind: 'complete'})
      }
    } catch (error) {
      opts.onEvent({kind: 'error', error})
    } finally {
      running = false
      if (again) {
        const next = again
        again = undefined
        void runStep(next, performance.now())
      }
    }
  }

  const w = watchFiles(session.workspace, files, (changed) => void runStep(changed, performance.now()), {
    poll: opts.poll,
  })
  opts.onEvent({kind: 'watching', dir: session.workspace, files, polling: w.polling})
  await runStep([], performance.now())
  await opts.until
  w.stop()
  while (running) await new Promise((r) => setTimeout(r, 50))
}
