import {progressPath} from './paths.js'
import {LockedJsonFile} from './locked-json-file.js'

export interface StepProgress {
  done: boolean
  /** When the step's checks last passed. */
  doneAt?: string
  lastCheckedAt?: string
  checksPassed: number
  checksTotal: number
  attempts: number
  hintsSeen: number
}

export interface LabProgress {
  startedAt: string
  currentStep?: string
  steps: Record<string, StepProgress>
}

interface ProgressFile {
  version: 1
  labs: Record<string, LabProgress>
}

const isProgressFile = (v: unknown): v is ProgressFile =>
  typeof v === 'object' &&
  v !== null &&
  (v as ProgressFile).version === 1 &&
  typeof (v as ProgressFile).labs === 'object'

const emptyStep = (): StepProgress => ({done: false, checksPassed: 0, checksTotal: 0, attempts: 0, hintsSeen: 0})

/** Per lab and step: done, when, checks passed, hints seen. Survives restarts. */
export class ProgressStore {
  private readonly file: LockedJsonFile<ProgressFile>

  constructor(
    path: string = progressPath(),
    warn: (m: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {
    this.file = new LockedJsonFile(
      path,
      isProgressFile,
      () => ({version: 1, labs: {}}),
      (aside) => warn(`the progress file ${path} was unreadable; moved it to ${aside} and started afresh`),
    )
  }

  all(): Record<string, LabProgress> {
    return this.file.read().labs
  }

  lab(lab: number): LabProgress | undefined {
    return this.file.read().labs[String(lab)]
  }

  private step(f: ProgressFile, lab: number, step: string): StepProgress {
    const l = (f.labs[String(lab)] ??= {startedAt: new Date().toISOString(), steps: {}})
    return (l.steps[step] ??= emptyStep())
  }

  recordCheck(lab: number, step: string, passed: number, total: number): StepProgress {
    return this.file.mutate((f) => {
      const s = this.step(f, lab, step)
      const now = new Date().toISOString()
      s.attempts += 1
      s.lastCheckedAt = now
      s.checksPassed = passed
      s.checksTotal = total
      if (total > 0 && passed === total) {
        if (!s.done) s.doneAt = now
        s.done = true
      }
      return {...s}
    })
  }

  /** Count a hint as seen and return how many of this step's hints have been shown. */
  nextHint(lab: number, step: string, available: number): number {
    return this.file.mutate((f) => {
      const s = this.step(f, lab, step)
      s.hintsSeen = Math.min(s.hintsSeen + 1, available)
      return s.hintsSeen
    })
  }

  setCurrentStep(lab: number, step: string): void {
    this.file.mutate((f) => {
      this.step(f, lab, step)
      f.labs[String(lab)].currentStep = step
    })
  }

  resetLab(lab?: number): void {
    this.file.mutate((f) => {
      if (lab === undefined) f.labs = {}
      else delete f.labs[String(lab)]
    })
  }
}
