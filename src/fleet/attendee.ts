// One attendee's line in the instructor's view: where they are, for how long, what fails, how many
// hints. The same row comes from two sources (`status --json` over SSH, or Prometheus), so the
// report and `fleet top` print the same table.

export interface StepView {
  id: string
  title?: string
  done: boolean
  attempts: number
  hintsSeen: number
  startedAt: string | null
  lastCheckedAt: string | null
  progressAt: string | null
  failing: string | null
}

export interface LabView {
  lab: number
  steps: StepView[]
}

export interface AttendeeRow {
  host: string
  /** ok: the VM answered; idle: it answered and no step has been opened; down / error: it did not; bad-line: not a host. */
  state: 'ok' | 'idle' | 'down' | 'error' | 'bad-line'
  message?: string
  lab?: number
  step?: string
  minutesOnStep?: number
  minutesSinceProgress?: number
  attempts?: number
  hints?: number
  failing?: string
  stepsDone?: number
  stuck: boolean
}

/** Minutes with no progress, on a step with failing check runs, that make an attendee stuck. */
export const DEFAULT_STUCK_MINUTES = 10

const ms = (iso: string | null | undefined): number | undefined => (iso ? Date.parse(iso) : undefined)
const activity = (s: StepView): number => Math.max(ms(s.startedAt) ?? 0, ms(s.lastCheckedAt) ?? 0)

/** The step the attendee is on: the one most recently opened or checked, across labs. */
export function whereNow(labs: LabView[]): {lab: number; step: StepView} | undefined {
  let best: {lab: number; step: StepView} | undefined
  for (const l of labs)
    for (const s of l.steps)
      if (activity(s) > 0 && (!best || activity(s) > activity(best.step))) best = {lab: l.lab, step: s}
  return best
}

export interface StuckRule {
  stuckMinutes: number
  now: number
}

/** Stuck: not done, has failed at least once, and nothing got further for the rule's minutes. */
export function isStuck(o: {done: boolean; attempts: number; minutesSinceProgress?: number}, rule: StuckRule): boolean {
  return !o.done && o.attempts > 0 && (o.minutesSinceProgress ?? 0) >= rule.stuckMinutes
}

export function rowFromStatus(host: string, labs: LabView[], rule: StuckRule): AttendeeRow {
  const where = whereNow(labs)
  if (!where) return {host, state: 'idle', stepsDone: doneCount(labs), stuck: false, message: 'no step opened yet'}
  return rowAt(host, where.lab, where.step, labs, rule)
}

const doneCount = (labs: LabView[]): number => labs.reduce((n, l) => n + l.steps.filter((s) => s.done).length, 0)

/** The row of an attendee on `step` of `lab` (Prometheus names the step; status --json is asked). */
export function rowAt(host: string, lab: number, s: StepView, labs: LabView[], rule: StuckRule): AttendeeRow {
  const minutes = (iso: string | null) =>
    ms(iso) === undefined ? undefined : Math.max(0, (rule.now - (ms(iso) as number)) / 60_000)
  const minutesSinceProgress = minutes(s.progressAt ?? s.startedAt)
  return {
    host,
    state: 'ok',
    lab,
    step: s.id,
    minutesOnStep: minutes(s.startedAt),
    minutesSinceProgress,
    attempts: s.attempts,
    hints: s.hintsSeen,
    ...(s.failing && !s.done ? {failing: s.failing} : {}),
    stepsDone: doneCount(labs),
    stuck: isStuck({done: s.done, attempts: s.attempts, minutesSinceProgress}, rule),
  }
}

/** "N attendees on lab 1 add, …": the summary line under the table. */
export function stepCounts(rows: AttendeeRow[]): Array<{where: string; count: number; stuck: number}> {
  const by = new Map<string, {count: number; stuck: number}>()
  for (const r of rows) {
    const where =
      r.state === 'ok'
        ? `lab ${r.lab} ${r.step}`
        : r.state === 'bad-line'
          ? 'not a host'
          : r.state === 'idle'
            ? 'not started'
            : r.state
    const c = by.get(where) ?? {count: 0, stuck: 0}
    c.count += 1
    if (r.stuck) c.stuck += 1
    by.set(where, c)
  }
  return [...by].map(([where, c]) => ({where, ...c})).sort((a, b) => a.where.localeCompare(b.where))
}
