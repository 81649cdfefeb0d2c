import {errorMessage} from '../host/errors.js'
import {interrupted} from '../host/interrupt.js'
import {runInCheck} from '../host/check-scope.js'

// The one check engine: lab checks, `conform` and `doctor` are lists of CheckDefinitions run by
// runCheckList, and each verdict is a CheckResult.

export type CheckCost = 'cheap' | 'pods' | 'heavy'
const COST_RANK: Record<CheckCost, number> = {cheap: 0, pods: 1, heavy: 2}

/** Cheapest first; the lab's order among checks of one cost. */
export const byCost = <C extends {cost?: CheckCost}>(checks: C[]): C[] =>
  checks
    .map((c, i) => ({c, i}))
    .sort((a, b) => COST_RANK[a.c.cost ?? 'pods'] - COST_RANK[b.c.cost ?? 'pods'] || a.i - b.i)
    .map(({c}) => c)

/** `warn`: an optional check failed (doctor's optional runtimes); it does not fail the run. */
export type CheckStatus = 'pass' | 'fail' | 'skip' | 'warn'

/** One check's verdict, as `check --json` prints it. */
export interface CheckResult {
  id: string
  title: string
  status: CheckStatus
  /** What was seen vs what was expected. */
  message: string
  hint?: string
  durationMs?: number
  /** A skip for what this machine lacks (MachineLacks): it does not keep the step from passing. */
  unsupported?: boolean
}

export interface CheckReport {
  lab: number
  step: string
  passed: boolean
  durationMs: number
  checks: CheckResult[]
  /**
   * A step run with no failing check: the first cheap check of an earlier step that fails on the same
   * work (a passed step's warning line; the cause a step whose checks were all skipped names).
   */
  earlierStepFails?: {step: string; check: string; message: string}
}

/**
 * A cause a failing check established: one mistake several checks of a run can fail from. The
 * first check of the run that fails with it gives its own message and hint; a later one that fails
 * from the same cause gets "same cause as <that check>: <summary>" instead of its hint, and its
 * brief (one line) instead of its message when it has one (runCheckList), so no later check sends
 * the learner after another cause or repeats the first one's evidence.
 */
export interface CheckCause {
  /** Names the cause among a run's checks (e.g. 'to-pod-isolated-first'). */
  key: string
  /** The cause and its fix in a sentence, quoted by the later checks' hints. */
  summary: string
}

/** Thrown inside a check to fail it with a message and a hint. */
export class CheckFailure extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly established?: CheckCause,
    /** What the check saw in one line, shown instead of the message when an earlier check named the cause. */
    readonly brief?: string,
  ) {
    super(message)
  }
}

/**
 * Fail the running check with what was seen, and optionally a hint more precise than the check's
 * own, the cause it established (CheckCause), and what it saw in one line (for a later check).
 */
// A function declaration (not an arrow in a const): TypeScript narrows after a call to it.
export function fail(message: string, hint?: string, cause?: CheckCause, brief?: string): never {
  throw new CheckFailure(message, hint, cause, brief)
}

/**
 * Run `body`; a failure it throws with a cause and no brief of its own gets `brief`, the check's
 * one line for a run in which an earlier check already named that cause (helpers shared by several
 * checks establish causes; each check knows what it saw).
 */
export async function briefly<T>(brief: string, body: () => T | Promise<T>): Promise<T> {
  try {
    return await body()
  } catch (err) {
    if (err instanceof CheckFailure && err.established && !err.brief)
      throw new CheckFailure(err.message, err.hint, err.established, brief)
    throw err
  }
}

/** No check message or hint is longer than this: a long list is cut, with what was left out counted. */
export const CHECK_TEXT_CAP = 4096

/** `text` cut to `cap` characters, saying how many were left out. */
export function capText(text: string, cap = CHECK_TEXT_CAP): string {
  if (text.length <= cap) return text
  const more = ` … (${text.length - cap} more characters not shown)`
  return text.slice(0, cap - more.length) + more
}

/** The first `max` items joined, and how many more there are: "a, b, c … 16381 more". */
export function listSome(items: readonly string[], max = 5, sep = ', '): string {
  if (items.length <= max) return items.join(sep)
  return `${items.slice(0, max).join(sep)} … ${items.length - max} more`
}

/** Thrown inside a check to skip it (a prerequisite failed or is absent). */
export class CheckSkip extends Error {}

/**
 * A skip because this machine cannot do what the check needs (a kernel feature it lacks), not
 * because of the learner's work: the message names what is missing, and the step still counts
 * as done (stock Debian 12's kernel has no tcx, and every step must pass there).
 */
export class MachineLacks extends CheckSkip {}

export interface CheckDefinition<Ctx> {
  id: string
  title: string
  hint: string
  /**
   * How much a check costs, for the feedback loop (watch mode, the menu), which runs a step's
   * checks cheapest first and stops at the first failure: `cheap` reads files or makes single
   * calls, the default makes a pod or two, `heavy` fills subnets or starts containers.
   */
  cost?: CheckCost
  /** Something the work can do without (an optional runtime): its failure is a warning. */
  optional?: boolean
  /** Resolves with a pass message, or throws CheckFailure / CheckSkip. */
  run: (ctx: Ctx) => Promise<string>
}

/** The causes established so far in one run of checks, each by the first check that failed with it. */
export type EstablishedCauses = Map<string, {checkId: string; summary: string}>

/**
 * Run one check: its pass message, or the failure/skip it threw, timed. Never throws. With the
 * run's `causes`, a failure with a cause an earlier check established says so in its hint.
 */
export async function runCheck<Ctx>(
  check: CheckDefinition<Ctx>,
  ctx: Ctx,
  causes: EstablishedCauses = new Map(),
): Promise<CheckResult> {
  const t0 = performance.now()
  const base = {id: check.id, title: check.title}
  let result: CheckResult
  try {
    // What the check makes is the check's: observe marks its pods' flows (host/check-scope.ts).
    result = {...base, status: 'pass', message: await runInCheck(check.id, () => check.run(ctx))}
  } catch (err) {
    if (err instanceof MachineLacks) result = {...base, status: 'skip', message: err.message, unsupported: true}
    else if (err instanceof CheckSkip) result = {...base, status: 'skip', message: err.message}
    else if (err instanceof CheckFailure) {
      const earlier = err.established && causes.get(err.established.key)
      if (err.established && !earlier)
        causes.set(err.established.key, {checkId: check.id, summary: err.established.summary})
      result = {
        ...base,
        status: check.optional ? 'warn' : 'fail',
        message: earlier && err.brief ? err.brief : err.message,
        hint: earlier ? `same cause as ${earlier.checkId}: ${earlier.summary}` : (err.hint ?? check.hint),
      }
    } else
      result = {
        ...base,
        status: 'fail',
        message: `the check itself hit an error: ${errorMessage(err)}`,
        hint: check.hint,
      }
  }
  // A message is read by a person: a list of thousands (every key of a map) says nothing more.
  result.message = capText(result.message)
  if (result.hint) result.hint = capText(result.hint)
  result.durationMs = Math.round(performance.now() - t0)
  return result
}

export interface CheckListOptions {
  /** Stop at the first failure (the feedback loop's order); the rest are not run. */
  untilFirstFailure?: boolean
  /** Called as each check starts (no result) and ends (with it), for live rendering. */
  onCheck?: (id: string, title: string, result?: CheckResult) => void
}

/**
 * Run checks in order against one context. Ctrl-C stops the list: a check cut short saw its own
 * children killed, so it gives no verdict and is left out (the caller asks interrupted()).
 */
export async function runCheckList<Ctx>(
  checks: Array<CheckDefinition<Ctx>>,
  ctx: Ctx,
  opts: CheckListOptions = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = []
  const causes: EstablishedCauses = new Map()
  for (const check of checks) {
    if (opts.untilFirstFailure && results.some((r) => r.status === 'fail')) break
    if (interrupted()) break
    opts.onCheck?.(check.id, check.title)
    const result = await runCheck(check, ctx, causes)
    if (interrupted()) break
    results.push(result)
    opts.onCheck?.(check.id, check.title, result)
  }
  return results
}

/** A run passes when no check failed; warnings and skips do not fail it. */
export const noneFailed = (results: CheckResult[]): boolean => results.every((r) => r.status !== 'fail')
