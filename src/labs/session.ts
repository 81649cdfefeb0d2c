import {ProgressStore} from '../host/progress.js'
import {getStep, type Lab, type LabStep} from './catalogue.js'

/**
 * One learner's session in one lab, over the progress store: which step they are on, what is
 * done, the hints they have seen. `lab`, `hint`, the menu and watch mode all ask it, so they
 * agree on "the current step"; the check engine records check runs in the same store.
 */
export class LabSession {
  constructor(
    readonly lab: Lab,
    private readonly progress = new ProgressStore(),
  ) {}

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
    return step.hints.slice(0, this.progress.nextHint(this.lab.id, step.id, step.hints.length))
  }
}
