import type {CheckReport} from '../checks/engine.js'
import type {Lab, LabStep} from '../labs/catalogue.js'

/**
 * The line after a whole-lab run that names the first step with a failure. A stretch step is
 * optional: the line says so, and whether a core step fails too (walked: "✘ lab 1: 1 failing" once
 * the core was done read as unfinished work). When a core step fails after a failing stretch step,
 * that core step is the one to work on.
 */
export function renderFocus(lab: Lab, report: CheckReport, focus: LabStep): string {
  const failing = (s: LabStep) => report.checks.some((c) => s.checks.includes(c.id) && c.status === 'fail')
  const alone = (s: LabStep) => `For it alone: ebpfcni check ${lab.id} --step ${s.id}`
  if (focus.level !== 'stretch') return `first step with a failure: ${focus.id}. ${alone(focus)}`
  const core = lab.steps.filter((s) => s.level === 'core')
  const coreFailing = core.find(failing)
  if (coreFailing)
    return `first step with a failure: ${focus.id} (stretch, optional); first core step with a failure: ${coreFailing.id}. ${alone(coreFailing)}`
  const coreSaid = core.length
    ? `no check of the core steps ${core.map((s) => s.id).join(', ')} fails`
    : 'every step of this lab is stretch'
  return `first step with a failure: ${focus.id} (stretch, optional: ${coreSaid}). ${alone(focus)}`
}
