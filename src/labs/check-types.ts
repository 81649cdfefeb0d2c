export type CheckStatus = 'pass' | 'fail' | 'skip'

/** One check's verdict, as `check --json` prints it. */
export interface CheckResult {
  id: string
  title: string
  status: CheckStatus
  /** What was seen vs what was expected. */
  message: string
  hint?: string
  durationMs?: number
}

export interface CheckReport {
  lab: number
  step: string
  passed: boolean
  durationMs: number
  checks: CheckResult[]
}

/** Thrown inside a check to fail it with a message and a hint. */
export class CheckFailure extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message)
  }
}

/** Thrown inside a check to skip it (a prerequisite failed or is absent). */
export class CheckSkip extends Error {}

export interface CheckDefinition<Ctx> {
  id: string
  title: string
  hint: string
  /** Resolves with a pass message, or throws CheckFailure / CheckSkip. */
  run: (ctx: Ctx) => Promise<string>
}
