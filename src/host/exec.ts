// execa loads on the first child process: it alone doubles a bare start (status, --help run none).
const loadExeca = () => import('execa')

export interface RunOptions {
  /** Kill the whole process group after this long (default 10 s). */
  timeoutMs?: number
  /** Cap on each of stdout and stderr kept (default 1 MiB); the process is killed past it. */
  maxOutputBytes?: number
  input?: string
  env?: Record<string, string | undefined>
  /** Start from an empty environment plus `env` (the CNI spec's plugin calls do this). */
  cleanEnv?: boolean
  cwd?: string
  /** Stop the child early (a probe whose answer is already known). */
  signal?: AbortSignal
}

export interface RunResult {
  command: string
  exitCode: number | undefined
  signal?: string
  stdout: string
  stderr: string
  timedOut: boolean
  outputCapped: boolean
  /** Set when the program could not be started at all (ENOENT, EACCES, bad interpreter). */
  startError?: string
  durationMs: number
}

export const ok = (result: RunResult): boolean => result.exitCode === 0 && !result.timedOut && !result.startError

/** One line saying what happened, for messages that name the step and what was seen. */
export function describeRun(result: RunResult): string {
  if (result.startError) return `could not start ${result.command}: ${result.startError}`
  if (result.timedOut) return `${result.command} did not finish within its time limit and was killed`
  if (result.outputCapped) return `${result.command} printed more than the output cap and was killed`
  if (result.signal) return `${result.command} was killed by ${result.signal}`
  const err = result.stderr.trim().split('\n').slice(-3).join(' | ')
  return `${result.command} exited ${result.exitCode}${err ? `: ${err}` : ''}`
}

const DEFAULT_TIMEOUT_MS = 10_000
/** The children running now, by process group: an interrupted run kills them all. */
const activeGroups = new Map<number, Promise<unknown>>()

/**
 * SIGKILL every child process group still running (on Ctrl-C: a hung plugin must die with us),
 * and resolve once they have exited (at most `waitMs`). A child killed inside a system call
 * finishes it first: an `ip link add` in flight still makes its link, so what removes the run's
 * objects must start after, or it deletes a link that does not exist yet and the link stays.
 */
export async function killActiveChildren(waitMs = 2000): Promise<void> {
  const children = [...activeGroups.values()]
  for (const pid of activeGroups.keys()) killGroup(pid)
  activeGroups.clear()
  if (!children.length) return
  await Promise.race([Promise.allSettled(children), new Promise((r) => setTimeout(r, waitMs).unref())])
}
const DEFAULT_CAP = 1024 * 1024

/**
 * Run a program with an argument array (never a shell string), a timeout and an
 * output cap. Never throws for the child's failure: the result says what was seen.
 * The child runs in its own process group so a hung plugin's children die with it.
 */
export async function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const cap = opts.maxOutputBytes ?? DEFAULT_CAP
  const {execa} = await loadExeca()
  const started = performance.now()
  const command = [file, ...args].join(' ')
  const child = execa(file, args, {
    reject: false,
    input: opts.input ?? '',
    env: opts.env,
    extendEnv: !opts.cleanEnv,
    cwd: opts.cwd,
    detached: true,
    maxBuffer: {stdout: cap, stderr: cap},
    encoding: 'utf8',
    stripFinalNewline: false,
    cleanup: true,
    ...(opts.signal ? {cancelSignal: opts.signal} : {}),
  })
  if (child.pid) activeGroups.set(child.pid, child)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup(child.pid)
  }, timeoutMs)
  const r = await child
  clearTimeout(timer)
  // Whatever the outcome, leave no grandchild (a plugin's `sleep`) behind.
  killGroup(child.pid)
  if (child.pid) activeGroups.delete(child.pid)
  const durationMs = performance.now() - started
  const startError =
    r.failed && r.exitCode === undefined && !timedOut && !r.isMaxBuffer && !r.signal
      ? r.cause instanceof Error
        ? r.cause.message
        : r.shortMessage
      : undefined
  return {
    command,
    exitCode: r.exitCode,
    signal: timedOut ? undefined : r.signal,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    timedOut,
    outputCapped: Boolean(r.isMaxBuffer),
    startError,
    durationMs,
  }
}

function killGroup(pid: number | undefined): void {
  if (!pid) return
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {
    // group already gone
  }
}

/** Run and throw a message naming the step when it fails; for host tools we rely on (ip, podman). */
export async function runOrThrow(
  step: string,
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const r = await run(file, args, opts)
  if (!ok(r)) throw new Error(`${step}: ${describeRun(r)}`)
  return r
}
