import {existsSync, mkdirSync, readdirSync, renameSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {legacyProgressPath, progressDir, progressPath, workspaceDir} from './paths.js'
import {LockedJsonFile} from './locked-json-file.js'

export interface StepProgress {
  done: boolean
  /** Since when the step's checks pass (cleared when a run fails; set again by the next pass). */
  doneAt?: string
  /** When its checks first passed: kept whatever later runs say (status's "done" time). */
  firstDoneAt?: string
  /**
   * When the attendee first had the step before them: its text shown (`lab N`), one of its hints, or a
   * check of that step alone. A whole-lab check shows no step: it sets none.
   */
  viewedAt?: string
  lastCheckedAt?: string
  checksPassed: number
  checksTotal: number
  attempts: number
  hintsSeen: number
  /** When the attendee first opened or checked the step. */
  startedAt?: string
  /** When the step last got further: more checks passing than before, or done (the room's "stuck" clock). */
  progressAt?: string
  /** The first check that failed at the last run, if any. */
  failing?: string
}

export interface LabProgress {
  startedAt: string
  currentStep?: string
  steps: Record<string, StepProgress>
}

interface ProgressFile {
  version: 1
  /** The workspace this progress belongs to (files written before it was recorded have none). */
  workspace?: string
  labs: Record<string, LabProgress>
}

const isProgressFile = (v: unknown): v is ProgressFile =>
  typeof v === 'object' &&
  v !== null &&
  (v as ProgressFile).version === 1 &&
  typeof (v as ProgressFile).labs === 'object'

const emptyStep = (): StepProgress => ({done: false, checksPassed: 0, checksTotal: 0, attempts: 0, hintsSeen: 0})

/** Every workspace's progress file on this host (reset --progress forgets them all). */
export function progressFiles(): string[] {
  const dir = progressDir()
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => join(dir, f))
    : []
}

/** Per lab and step: done, when, checks passed, hints seen. Survives restarts; one file per workspace. */
export class ProgressStore {
  private readonly file: LockedJsonFile<ProgressFile>

  /** The progress of a workspace (the default one takes over the host-wide file older versions kept). */
  static forWorkspace(workspace: string = workspaceDir()): ProgressStore {
    const path = progressPath(workspace)
    if (workspace === workspaceDir(undefined) && !existsSync(path) && existsSync(legacyProgressPath())) {
      mkdirSync(dirname(path), {recursive: true})
      renameSync(legacyProgressPath(), path)
    }
    return new ProgressStore(path, undefined, workspace)
  }

  constructor(
    readonly path: string,
    warn: (m: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
    /** The workspace, written into the file with the progress (reset names it). */
    private readonly workspaceDir?: string,
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

  /** The workspace the file says it belongs to, when it says. */
  workspace(): string | undefined {
    return this.file.read().workspace
  }

  lab(lab: number): LabProgress | undefined {
    return this.file.read().labs[String(lab)]
  }

  private step(f: ProgressFile, lab: number, step: string): StepProgress {
    if (this.workspaceDir) f.workspace = this.workspaceDir
    const l = (f.labs[String(lab)] ??= {startedAt: new Date().toISOString(), steps: {}})
    return (l.steps[step] ??= {...emptyStep(), startedAt: new Date().toISOString()})
  }

  /** One check run's result for a step; `alone` when the run checked that step only (the attendee is on it). */
  recordCheck(
    lab: number,
    step: string,
    passed: number,
    total: number,
    failing?: string,
    opts: {alone?: boolean} = {},
  ): StepProgress {
    return this.file.mutate((f) => {
      const s = this.step(f, lab, step)
      const now = new Date().toISOString()
      s.startedAt ??= now
      if (opts.alone) s.viewedAt ??= now
      if (passed > s.checksPassed || (total > 0 && passed === total && !s.done)) s.progressAt = now
      if (failing) s.failing = failing
      else delete s.failing
      s.attempts += 1
      s.lastCheckedAt = now
      s.checksPassed = passed
      s.checksTotal = total
      // A step whose check fails after it passed is pending again (as rustlings does).
      const passes = total > 0 && passed === total
      if (passes && !s.done) s.doneAt = now
      if (passes) s.firstDoneAt ??= s.doneAt ?? now
      if (!passes) delete s.doneAt
      s.done = passes
      return {...s}
    })
  }

  /** Count a hint as seen and return how many of this step's hints have been shown. */
  nextHint(lab: number, step: string, available: number): number {
    return this.file.mutate((f) => {
      const s = this.step(f, lab, step)
      s.viewedAt ??= new Date().toISOString()
      s.hintsSeen = Math.min(s.hintsSeen + 1, available)
      return s.hintsSeen
    })
  }

  setCurrentStep(lab: number, step: string): void {
    this.file.mutate((f) => {
      this.step(f, lab, step).viewedAt ??= new Date().toISOString()
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
