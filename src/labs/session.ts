import {ProgressStore} from '../host/progress.js'
import {getStep, loadLabs, type Lab, type LabStep} from './catalogue.js'
import type {RunChecksOptions} from './checker.js'
import type {CheckReport, CheckResult} from '../checks/engine.js'
import {ensureWorkspace, inWorkspace, solutionFiles, type SolutionFile, type WorkspaceChange} from './workspace.js'
import type {SolutionDiff} from './solution-diff.js'
// The checker, the solution diff and deploy (with bpf/, cni/ and net/ behind them) load when a
// method needs them: status and hint, which start the CLI for a few reads, load none of them.

type OnCheck = (id: string, title: string, result?: CheckResult) => void

/** One step as `status` shows it. */
export interface StepStatus {
  id: string
  title: string
  level: LabStep['level']
  minutes: number
  done: boolean
  doneAt: string | null
  checksPassed: number
  checksTotal: number
  attempts: number
  hintsSeen: number
  /** When its checks first passed (kept when a later run fails: `done` says how it stands now). */
  firstPassedAt: string | null
  /** When the step was first before the attendee: its text, a hint, or a check of it alone. */
  viewedAt: string | null
  /**
   * From viewedAt to firstPassedAt: how long the step took the attendee. Null when the step was never
   * shown before it passed (a whole-lab check passed it first): no duration means anything then.
   */
  tookMs: number | null
  /** First opened or checked; last checked; last got further (more checks passing, or done). */
  startedAt: string | null
  lastCheckedAt: string | null
  progressAt: string | null
  /** The first check that failed at the last run. */
  failing: string | null
}

/** One lab as `status` shows it. */
export interface LabStatus {
  lab: number
  title: string
  startedAt: string | null
  /** The step `lab N` last opened. */
  currentStep: string | null
  stepsDone: number
  stepsTotal: number
  steps: StepStatus[]
}

/**
 * One learner's session in one lab and workspace, over that workspace's progress: which step
 * they are on, what is done, the hints they have seen, checking a step or the lab, and the
 * reference solution (diff, apply). A command makes one per run (lab, check, hint, solution)
 * and hands it to the menu, watch mode and the checks, so they agree on "the current step";
 * the check engine records check runs in the same store.
 */
export class LabSession {
  constructor(
    readonly lab: Lab,
    readonly workspace: string,
    readonly progress = ProgressStore.forWorkspace(workspace),
  ) {}

  /**
   * Make the workspace ready for this lab (lab N, solution N): the starter files it lacks, shared
   * files swapped in or set aside; with `fresh`, the starter over the learner's (backed up).
   */
  openWorkspace(opts: {fresh?: boolean} = {}): WorkspaceChange[] {
    return ensureWorkspace(this.lab, this.workspace, opts)
  }

  /** Start the lab over (lab --fresh): its steps pending, its hints unseen. */
  startOver(): void {
    this.progress.resetLab(this.lab.id)
  }

  isDone(step: LabStep): boolean {
    return Boolean(this.progress.lab(this.lab.id)?.steps[step.id]?.done)
  }

  /**
   * The step to work on: the one asked for (an unknown id is an error); else where the learner
   * was, unless that step is done; else the first unfinished; else where they were; else the first.
   */
  currentStep(asked?: string): LabStep {
    const where = this.progress.lab(this.lab.id)?.currentStep
    return (
      getStep(this.lab, asked) ??
      this.lab.steps.find((s) => s.id === where && !this.isDone(s)) ??
      this.lab.steps.find((s) => !this.isDone(s)) ??
      this.lab.steps.find((s) => s.id === where) ??
      this.lab.steps[0]
    )
  }

  nextStep(step: LabStep): LabStep | undefined {
    return this.lab.steps[this.lab.steps.indexOf(step) + 1]
  }

  /** Work on this step from now on (remembered across runs). */
  moveTo(step: LabStep): LabStep {
    this.progress.setCurrentStep(this.lab.id, step.id)
    return step
  }

  /** One more of the step's hints counted as seen: the hints to show, from the first. */
  nextHints(step: LabStep): string[] {
    if (step.hints.length === 0) return []
    return step.hints
      .slice(0, this.progress.nextHint(this.lab.id, step.id, step.hints.length))
      .map((h) => inWorkspace(h, this.workspace))
  }

  /** The feedback loop's check of one step: cheapest first, stopping at the first failure; progress recorded. */
  async checkStep(step: LabStep, onCheck?: OnCheck): Promise<CheckReport> {
    const {runChecks} = await import('./checker.js')
    return runChecks({
      lab: this.lab.id,
      step: step.id,
      workspace: this.workspace,
      progress: this.progress,
      untilFirstFailure: true,
      onCheck,
    })
  }

  /**
   * `check`'s run: every check of the step (of the whole lab without one) in lab.yaml's order, none
   * left out for an earlier failure, through the runtime asked for; progress recorded.
   */
  async checkAll(opts: {
    step?: LabStep
    runtime?: RunChecksOptions['runtime']
    onCheck?: OnCheck
  }): Promise<CheckReport> {
    const {runChecks} = await import('./checker.js')
    return runChecks({
      lab: this.lab.id,
      step: opts.step?.id,
      workspace: this.workspace,
      runtime: opts.runtime,
      progress: this.progress,
      onCheck: opts.onCheck,
    })
  }

  /** The reference files of a step (of the whole lab without one), each compared with the learner's. */
  solutionFiles(step?: LabStep): SolutionFile[] {
    return solutionFiles(this.lab, step, this.workspace)
  }

  /** What `solution N` and the menu's diff show: each of those files against the reference. */
  async solutionDiffs(step?: LabStep): Promise<SolutionDiff[]> {
    const {solutionDiffs} = await import('./solution-diff.js')
    return solutionDiffs(this.solutionFiles(step))
  }

  /**
   * Write the reference over the files that differ (the learner's kept as NAME.bak-TIME); as after
   * any edit of the program, a changed program is built and loaded, so the checks see this version.
   */
  async applySolution(files: SolutionFile[]): Promise<{backups: string[]; loaded?: string}> {
    const {applySolutionAndLoad} = await import('./deploy.js')
    return applySolutionAndLoad(files, this.workspace, {lab: this.lab.id})
  }

  /** Every step: done or not, when it first passed, how long it took, check runs and hints seen. */
  status(): LabStatus {
    const p = this.progress.lab(this.lab.id)
    const steps = this.lab.steps.map((s): StepStatus => {
      const sp = p?.steps[s.id]
      // Files from before firstDoneAt have only doneAt, the time of the latest pass.
      const firstPassedAt = sp?.firstDoneAt ?? sp?.doneAt ?? null
      const took = firstPassedAt && sp?.viewedAt ? Date.parse(firstPassedAt) - Date.parse(sp.viewedAt) : NaN
      return {
        id: s.id,
        title: s.title,
        level: s.level,
        minutes: s.minutes,
        done: sp?.done ?? false,
        doneAt: sp?.doneAt ?? null,
        checksPassed: sp?.checksPassed ?? 0,
        checksTotal: sp?.checksTotal ?? 0,
        attempts: sp?.attempts ?? 0,
        hintsSeen: sp?.hintsSeen ?? 0,
        firstPassedAt,
        viewedAt: sp?.viewedAt ?? null,
        tookMs: took > 0 ? took : null,
        startedAt: sp?.startedAt ?? null,
        lastCheckedAt: sp?.lastCheckedAt ?? null,
        progressAt: sp?.progressAt ?? null,
        failing: sp?.failing ?? null,
      }
    })
    return {
      lab: this.lab.id,
      title: this.lab.title,
      startedAt: p?.startedAt ?? null,
      currentStep: p?.currentStep ?? null,
      stepsDone: steps.filter((s) => s.done).length,
      stepsTotal: steps.length,
      steps,
    }
  }
}

/** Every lab's status for a workspace: what `status` prints and the room's metrics are made of. */
export function workspaceStatus(workspace: string): LabStatus[] {
  const progress = ProgressStore.forWorkspace(workspace)
  return loadLabs().map((lab) => new LabSession(lab, workspace, progress).status())
}
