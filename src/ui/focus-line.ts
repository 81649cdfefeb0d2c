import type {CheckReport} from '../checks/engine.js'
import type {Lab, LabStep} from '../labs/catalogue.js'

/**
 * The line after a whole-lab run that names the first failing step. A stretch step is optional:
 * the line says so, and what the core steps' checks did (walked: "✘ lab 1: 1 failing" once the core
 * was done read as unfinished work; "optional: no check of the core steps counter, metrics fails"
 * was hard to parse). When a core step fails after a failing stretch step, that core step is the one
 * to work on.
 */
export function renderFocus(lab: Lab, report: CheckReport, focus: LabStep): string {
  const failing = (s: LabStep) => report.checks.some((c) => s.checks.includes(c.id) && c.status === 'fail')
  const alone = (s: LabStep) => `For it alone: ebpfcni check ${lab.id} --step ${s.id}`
  if (focus.level !== 'stretch') return `first failing step: ${focus.id}. ${alone(focus)}`
  const core = lab.steps.filter((s) => s.level === 'core')
  const coreFailing = core.find(failing)
  if (coreFailing)
    return `first failing step: ${focus.id} (stretch, optional); first failing core step: ${coreFailing.id}. ${alone(coreFailing)}`
  return `first failing step: ${focus.id} (stretch, optional); ${coreSaid(report, core)}. ${alone(focus)}`
}

/** What the core steps' checks did, when none failed: "passes" only when each one ran and passed. */
function coreSaid(report: CheckReport, core: LabStep[]): string {
  if (!core.length) return 'every step of this lab is stretch'
  const ids = new Set(core.flatMap((s) => s.checks))
  const results = report.checks.filter((c) => ids.has(c.id))
  const names = list(core.map((s) => s.id))
  const steps = core.length === 1 ? `the core step ${names}` : `the core steps ${names}`
  const count = (st: string) => results.filter((c) => c.status === st).length
  const notRun = [...ids].filter((id) => !results.some((c) => c.id === id)).length
  const others = [
    [count('skip'), 'skipped'],
    [count('warn'), 'with a warning'],
    [notRun, 'not run'],
  ].filter(([n]) => n) as Array<[number, string]>
  if (!others.length) return `every check of ${steps} passes`
  return `no check of ${steps} fails (${others.map(([n, what]) => `${n} ${what}`).join(', ')})`
}

const list = (xs: string[]): string => (xs.length < 2 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`)
