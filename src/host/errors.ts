// Expected failures carry their exit code; the base command prints them as one
// clear message (a stack trace only with --debug).

/**
 * What the person can do next, named by what it achieves, not by a command: layers below the
 * CLI do not know its commands. ui/next-steps.ts turns each into the command line to type.
 */
export type NextStep =
  | {do: 'build-program'}
  | {do: 'load-program'}
  | {do: 'list-maps'}
  | {do: 'load-policy-program'}
  | {do: 'list-rules'}
  | {do: 'add-pod'}
  | {do: 'delete-pod'; pod: string}
  | {do: 'list-pods'}
  | {do: 'diagnose'}
  | {do: 'install-config'}
  | {do: 'reset'}

export class UserError extends Error {
  readonly exitCode: number
  readonly hint?: string
  readonly next?: NextStep
  constructor(message: string, opts: {exitCode?: number; hint?: string; next?: NextStep} = {}) {
    super(message)
    this.name = 'UserError'
    this.exitCode = opts.exitCode ?? 2
    this.hint = opts.hint
    this.next = opts.next
  }
}

/** Usage or environment problem: exit 2. */
export class EnvironmentError extends UserError {
  constructor(message: string, hint?: string, next?: NextStep) {
    super(message, {exitCode: 2, hint, next})
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
    const e = err as unknown as {userHint: string; userNext?: NextStep}
    return new UserError(err.message, {hint: e.userHint, next: e.userNext})
  }
  return undefined
}
