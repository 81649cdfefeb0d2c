// Expected failures carry their exit code; the base command prints them as one
// clear message (a stack trace only with --debug).
export class UserError extends Error {
  readonly exitCode: number
  readonly hint?: string
  constructor(message: string, opts: {exitCode?: number; hint?: string} = {}) {
    super(message)
    this.name = 'UserError'
    this.exitCode = opts.exitCode ?? 2
    this.hint = opts.hint
  }
}

/** Usage or environment problem: exit 2. */
export class EnvironmentError extends UserError {
  constructor(message: string, hint?: string) {
    super(message, {exitCode: 2, hint})
    this.name = 'EnvironmentError'
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Errors from lower layers that are the user's situation, not a bug (a BPF object not loaded
 * yet, a path that is not a map): they carry `userHint`. Everything else is a bug.
 */
export function asUserError(err: unknown): UserError | undefined {
  if (err instanceof Error && typeof (err as {userHint?: unknown}).userHint === 'string') {
    return new UserError(err.message, {hint: (err as unknown as {userHint: string}).userHint})
  }
  return undefined
}
