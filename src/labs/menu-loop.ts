import {join} from 'node:path'
import type {Lab, LabStep} from './catalogue.js'
import type {LabSession} from './session.js'
import {labModule} from './registry.js'
import type {SolutionDiff} from './solution-diff.js'
import type {CheckReport, CheckResult} from '../checks/engine.js'

// The interactive lab's controller: one step at a time, the learner picks an action, this decides
// what it does over the session. ui/lab-menu.ts is the view: it renders and prompts.

export type MenuAction = 'edit' | 'check' | 'watch' | 'hint' | 'diff' | 'apply' | 'next' | 'text' | 'quit'

/** The file a step asks the learner to edit (its solution's first file). */
export const stepFile = (step: LabStep): string => Object.keys(step.solution)[0] ?? 'ebpfcni'

/**
 * Whether a step asks for new code: its solution is not the one an earlier step already gave for
 * every file (lab 3's metrics reuses counter's program: "No new code", so no editor to open).
 */
export function asksNewCode(lab: Lab, step: LabStep): boolean {
  const earlier = new Map<string, string>()
  for (const s of lab.steps.slice(0, lab.steps.indexOf(step)))
    for (const [file, from] of Object.entries(s.solution)) earlier.set(file, from)
  const files = Object.entries(step.solution)
  return files.length === 0 || files.some(([file, from]) => earlier.get(file) !== from)
}

export type OnCheck = (id: string, title: string, result?: CheckResult) => void

/** What the menu shows and asks: the terminal's side, implemented in ui/. */
export interface MenuView {
  /**
   * The action for this step; `next` is offered when the step passed and one follows. `suggested`:
   * what to do now (the checks, once the solution is in place), where the cursor starts.
   */
  choose(
    step: LabStep,
    state: {passed: boolean; next?: LabStep; file: string; suggested?: MenuAction},
  ): Promise<MenuAction>
  showStep(step: LabStep): void
  /** Hint n of total (n = 0: the step has none). */
  showHint(n: number, total: number, text?: string): void
  openEditor(path: string): Promise<void>
  /** The step's files against the reference (what `solution N --step S` prints). */
  showDiff(diffs: SolutionDiff[]): void
  confirmApply(files: string[]): Promise<boolean>
  showApplied(outcome: {backups: string[]; loaded?: string} | 'already'): void
  /** Render a check run live: `run` is called with the callback that reports each check. */
  showCheckRun(
    step: LabStep,
    checks: Array<{id: string; title: string}>,
    run: (onCheck: OnCheck) => Promise<CheckReport>,
  ): Promise<void>
  /** Watch mode until the learner stops it. */
  watch(step: LabStep): Promise<void>
  showError(err: unknown): void
}

export async function menuLoop(session: LabSession, first: LabStep, view: MenuView): Promise<void> {
  const {lab, workspace} = session
  let step = first
  let suggested: MenuAction | undefined
  for (;;) {
    const next = session.nextStep(step)
    const file = stepFile(step)
    const passed = session.isDone(step)
    const action = await view.choose(step, {passed, next, file, suggested})
    suggested = undefined
    if (action === 'quit') return
    try {
      switch (action) {
        case 'text':
          view.showStep(step)
          break
        case 'next':
          // Offered only once the step passed; a view that asks anyway moves nothing.
          if (next && passed) view.showStep((step = session.moveTo(next)))
          break
        case 'edit':
          await view.openEditor(join(workspace, file))
          break
        case 'hint': {
          const shown = session.nextHints(step)
          view.showHint(shown.length, step.hints.length, shown.at(-1))
          break
        }
        case 'diff':
          view.showDiff(await session.solutionDiffs(step))
          break
        case 'apply': {
          const files = session.solutionFiles(step)
          const differ = files.filter((f) => f.differs).map((f) => f.name)
          if (!differ.length) view.showApplied('already')
          else if (await view.confirmApply(differ)) view.showApplied(await session.applySolution(files))
          else break
          // The files changed (or already match): the checks are what to run now.
          suggested = 'check'
          break
        }
        case 'check': {
          const defs = (await labModule(lab.id))?.checks ?? []
          const checks = step.checks.map((id) => ({id, title: defs.find((c) => c.id === id)?.title ?? id}))
          await view.showCheckRun(step, checks, (onCheck) => session.checkStep(step, onCheck))
          break
        }
        case 'watch':
          await view.watch(step)
          // Watch mode may have moved on to the next step.
          step = session.currentStep()
          break
      }
    } catch (err) {
      view.showError(err)
    }
  }
}
