import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {ProgressStore} from '../host/progress.js'
import {UserError} from '../host/errors.js'
import {interrupted, untilExit} from '../host/interrupt.js'
import {getLab, getStep} from './catalogue.js'
import {installFile} from './install.js'
import {checkIdsDisagree, labModule} from './registry.js'
import {realTargets, type InstallTargets} from './install-targets.js'
import {installsOf} from './lab-module.js'
import {byCost, runCheckList, type CheckReport, type CheckResult} from '../checks/engine.js'
import {inWorkspace} from './workspace.js'
import {pluginParses} from './preflight.js'

/**
 * A skip is not a pass: a step is done only when every check ran and passed, except a check
 * skipped for an optional runtime (podman, containerd) the learner did not ask for, or for what
 * this machine lacks (a kernel feature: MachineLacks).
 */
const countsAsPassed = (r: CheckResult): boolean =>
  r.status === 'pass' ||
  (r.status === 'skip' && (r.unsupported === true || r.id === 'runtime.podman' || r.id === 'runtime.cri'))

export interface RunChecksOptions {
  lab: number
  step?: string
  workspace: string
  runtime?: 'netns' | 'podman' | 'cri'
  targets?: InstallTargets
  ledger?: Ledger
  progress?: ProgressStore
  /** Time limit for each plugin call (default 10 s). */
  timeoutMs?: number
  /**
   * The feedback loop's order: cheapest checks first, stopping at the first failure (the rest are
   * not run). `check` runs every check in the lab's order.
   */
  untilFirstFailure?: boolean
  /** Called as each check starts and ends (for live rendering). */
  onCheck?: (id: string, title: string, result?: CheckResult) => void
}

/**
 * Install the learner's workspace files, run the step's checks (all of the lab's without
 * a step) against the real CNI path, clean up everything the checks made, record progress.
 */
export async function runChecks(opts: RunChecksOptions): Promise<CheckReport> {
  const started = performance.now()
  const lab = getLab(opts.lab)
  const step = getStep(lab, opts.step)
  const def = await labModule(opts.lab)
  if (!def) throw new UserError(`lab ${opts.lab}'s checks are not available in this version of ebpfcni`)
  const disagree = checkIdsDisagree(
    lab.steps,
    def.checks.map((c) => c.id),
  )
  if (disagree.length)
    throw new UserError(`lab ${opts.lab}'s lab.yaml and its checks disagree: ${disagree.join('; ')}`, {
      hint: "the lab content is broken: fix lab.yaml or the lab's checks (a step must never pass on no checks)",
    })
  const wanted = step ? step.checks : lab.steps.flatMap((s) => s.checks)
  const ledger = opts.ledger ?? new Ledger()
  const targets = opts.targets ?? realTargets()

  for (const f of installsOf(def.files)) {
    const src = join(opts.workspace, f.workspaceFile)
    if (!existsSync(src))
      throw new UserError(`${src} is missing`, {
        hint: `start the lab to create your workspace: ebpfcni lab ${opts.lab} (or pass --workspace DIR)`,
      })
    installFile(ledger, src, join(targets[f.target], f.workspaceFile), {lab: opts.lab, mode: f.mode})
  }

  // A plugin that does not parse fails every check for a reason none of them names: say it first.
  const parse = def.files.plugin ? await pluginParses(join(opts.workspace, def.files.plugin)) : undefined
  if (parse) {
    opts.onCheck?.(parse.id, parse.title)
    opts.onCheck?.(parse.id, parse.title, parse)
    return {
      lab: opts.lab,
      step: step?.id ?? 'all',
      passed: false,
      durationMs: Math.round(performance.now() - started),
      checks: [parse],
    }
  }

  const ctx = def.context({
    lab: opts.lab,
    targets,
    workspace: opts.workspace,
    runtime: opts.runtime ?? 'netns',
    ledger,
    timeoutMs: opts.timeoutMs,
  })
  // lab.yaml orders the checks: its steps, and each step's list; a check several steps list runs once.
  const byId = new Map(def.checks.map((c) => [c.id, c]))
  const selected = [...new Set(wanted)].flatMap((id) => byId.get(id) ?? [])
  let results: CheckResult[]
  let earlierStepFails: CheckReport['earlierStepFails']
  try {
    const named = (r: CheckResult): CheckResult => ({
      ...r,
      message: inWorkspace(r.message, opts.workspace),
      ...(r.hint ? {hint: inWorkspace(r.hint, opts.workspace)} : {}),
    })
    results = (
      await runCheckList(opts.untilFirstFailure ? byCost(selected) : selected, ctx, {
        untilFirstFailure: opts.untilFirstFailure,
        onCheck: opts.onCheck && ((id, title, r) => opts.onCheck!(id, title, r && named(r))),
      })
    ).map(named)
    // A step that passes on work an earlier step now fails (metrics passes with a __u32 count, which
    // step counter refuses): its cheap checks say so in one line, not a run of its own. A step whose
    // checks were all skipped, none failing, was blocked by an earlier step's work (walked: metrics
    // with the map named couter skipped twice, 'needs a map named counter'): the same checks say by what.
    if (step && !interrupted() && results.length > 0 && results.every((r) => r.status !== 'fail')) {
      const earlier = lab.steps
        .slice(
          0,
          lab.steps.findIndex((s) => s.id === step.id),
        )
        .map((s) => ({
          step: s.id,
          checks: s.checks
            .flatMap((id) => (wanted.includes(id) ? [] : (byId.get(id) ?? [])))
            .filter((c) => c.cost === 'cheap'),
        }))
      // A check several earlier steps list (bpf.compiles, policy.conntrack) runs once: moments later, on the
      // same files and pins in the same context, it would only give its verdict again.
      const swept = new Set<string>()
      for (const e of earlier) {
        const fresh = e.checks.filter((c) => !swept.has(c.id))
        for (const c of fresh) swept.add(c.id)
        const failed = (await runCheckList(fresh, ctx, {untilFirstFailure: true})).find((r) => r.status === 'fail')
        if (failed) {
          earlierStepFails = {step: e.step, check: failed.id, message: named(failed).message}
          break
        }
      }
    }
  } finally {
    await ctx.cleanup()
  }
  if (interrupted()) return untilExit()
  const stepName = step?.id ?? 'all'
  // A run that checked nothing proves nothing: it never passes.
  const passed = results.length > 0 && results.every(countsAsPassed)
  const progress = opts.progress ?? ProgressStore.forWorkspace(opts.workspace)
  const steps = step ? [step] : lab.steps
  for (const s of steps) {
    const mine = results.filter((r) => s.checks.includes(r.id))
    const failing = mine.find((r) => !countsAsPassed(r))?.id
    progress.recordCheck(opts.lab, s.id, mine.filter(countsAsPassed).length, mine.length, failing, {
      alone: Boolean(step),
    })
  }
  return {
    lab: opts.lab,
    step: stepName,
    passed,
    durationMs: Math.round(performance.now() - started),
    checks: results,
    ...(earlierStepFails ? {earlierStepFails} : {}),
  }
}
