import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {ProgressStore} from '../host/progress.js'
import {getLab} from './catalogue.js'
import {ensureWorkspace, solutionFiles, applySolution} from './workspace.js'
import {runChecks} from './checker.js'
import {interrupted, onInterrupt, untilExit} from '../host/interrupt.js'
import {loadWorkspaceProgram} from './deploy.js'
import {createResetService} from '../reset/service.js'
import {labDiscoverers} from './registry.js'
import type {CheckReport} from '../checks/engine.js'

// `ebpfcni lab N --auto` / `lab all --auto`: the instructor's smoke test of a machine. Each
// step's solution is applied in turn and that step's checks run, as an attendee would get
// there. A throwaway workspace and progress file by default; the labs are reset afterwards,
// so the attendee's machine is left as it was.

export interface AutoStepResult {
  lab: number
  step: string
  title: string
  passed: boolean
  durationMs: number
  failing: Array<{id: string; status: string; message: string}>
}

export interface AutoOptions {
  labs: number[]
  /** Work here instead of a temporary directory (its files are overwritten by solutions). */
  workspace?: string
  /** Leave the last lab installed (no reset at the end). */
  keep?: boolean
  ledger?: Ledger
  onStepStart?: (lab: number, step: string, title: string) => void
  onStepDone?: (r: AutoStepResult, report: CheckReport) => void
}

export interface AutoOutcome {
  passed: boolean
  durationMs: number
  steps: AutoStepResult[]
  resetProblems: string[]
}

export async function runAuto(opts: AutoOptions): Promise<AutoOutcome> {
  const t0 = performance.now()
  const scratch = mkdtempSync(join(tmpdir(), 'ebpfcni-auto-'))
  const progress = new ProgressStore(join(scratch, 'progress.json'))
  const steps: AutoStepResult[] = []
  const resetProblems: string[] = []
  const resetLabs = async (): Promise<void> => {
    for (const n of opts.labs) {
      const reset = createResetService(await labDiscoverers(n), opts.ledger)
      const out = await reset.execute(await reset.plan(n))
      resetProblems.push(...out.failed.map((f) => `${f.description}: ${f.error}`))
    }
  }
  // Ctrl-C, SIGTERM or SIGHUP half-way: the smoke test's installs, pins and pods go as they would at
  // its end. Last: the step in flight removes its own pods first, then the reset sweeps what remains.
  const unregister = onInterrupt(
    async () => {
      if (!opts.keep) await resetLabs()
      rmSync(scratch, {recursive: true, force: true})
    },
    {last: true},
  )
  try {
    for (const n of opts.labs) {
      const lab = getLab(n)
      const dir = opts.workspace ?? join(scratch, `lab${n}`)
      ensureWorkspace(lab, dir)
      for (const step of lab.steps) {
        opts.onStepStart?.(n, step.id, step.title)
        const s0 = performance.now()
        applySolution(solutionFiles(lab, step, dir))
        await loadWorkspaceProgram(dir, {lab: n, ledger: opts.ledger})
        const report = await runChecks({lab: n, step: step.id, workspace: dir, progress, ledger: opts.ledger})
        const r: AutoStepResult = {
          lab: n,
          step: step.id,
          title: step.title,
          passed: report.passed,
          durationMs: Math.round(performance.now() - s0),
          failing: report.checks
            .filter((c) => c.status !== 'pass')
            .map((c) => ({id: c.id, status: c.status, message: c.message})),
        }
        steps.push(r)
        opts.onStepDone?.(r, report)
      }
    }
  } finally {
    if (interrupted()) await untilExit()
    unregister()
    if (!opts.keep) await resetLabs()
    rmSync(scratch, {recursive: true, force: true})
  }
  return {
    passed: steps.every((s) => s.passed) && resetProblems.length === 0,
    durationMs: Math.round(performance.now() - t0),
    steps,
    resetProblems,
  }
}
