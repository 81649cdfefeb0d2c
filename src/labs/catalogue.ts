import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {labsRoot} from '../host/paths.js'
import {UserError} from '../host/errors.js'

export interface LabStep {
  id: string
  title: string
  /** Markdown file, relative to the lab's directory. */
  text: string
  /** Check ids this step runs (`check N --step S`). */
  checks: string[]
  hints: string[]
  /** workspace file name -> file in the lab directory holding this step's solution. */
  solution: Record<string, string>
}

export interface Lab {
  id: number
  slug: string
  title: string
  goal: string
  dir: string
  /** workspace file name -> starter file in the lab directory, copied when the lab starts. */
  starter: Record<string, string>
  steps: LabStep[]
}

function validate(raw: unknown, file: string): Omit<Lab, 'dir'> {
  const bad = (what: string): never => {
    throw new Error(`${file}: ${what}`)
  }
  const r = raw as Record<string, unknown>
  if (typeof r !== 'object' || r === null) bad('not a mapping')
  if (typeof r.id !== 'number') bad('id must be a number')
  if (typeof r.title !== 'string') bad('title missing')
  if (!Array.isArray(r.steps) || r.steps.length === 0) bad('steps missing')
  const steps = (r.steps as Array<Record<string, unknown>>).map((s, i) => {
    if (typeof s.id !== 'string') bad(`steps[${i}].id missing`)
    if (!Array.isArray(s.checks)) bad(`steps[${i}].checks missing`)
    return {
      id: s.id as string,
      title: String(s.title ?? s.id),
      text: String(s.text ?? ''),
      checks: (s.checks as unknown[]).map(String),
      hints: Array.isArray(s.hints) ? s.hints.map(String) : [],
      solution: (s.solution ?? {}) as Record<string, string>,
    }
  })
  return {id: r.id as number, slug: String(r.slug ?? ''), title: r.title as string, goal: String(r.goal ?? ''), starter: (r.starter ?? {}) as Record<string, string>, steps}
}

/** All labs under labs/NN-slug/lab.yaml, in order. */
export function loadLabs(root = labsRoot()): Lab[] {
  if (!existsSync(root)) return []
  return readdirSync(root)
    .filter((d) => /^\d\d-/.test(d) && existsSync(join(root, d, 'lab.yaml')))
    .sort()
    .map((d) => {
      const file = join(root, d, 'lab.yaml')
      return {...validate(parse(readFileSync(file, 'utf8')), file), dir: join(root, d)}
    })
}

export function getLab(id: number, root = labsRoot()): Lab {
  const labs = loadLabs(root)
  const lab = labs.find((l) => l.id === id)
  if (!lab) throw new UserError(`there is no lab ${id}`, {hint: `the labs: ${labs.map((l) => `${l.id} (${l.title})`).join(', ') || 'none'}`})
  return lab
}

export function getStep(lab: Lab, stepId?: string): LabStep | undefined {
  if (stepId === undefined) return undefined
  const step = lab.steps.find((s) => s.id === stepId || String(lab.steps.indexOf(s) + 1) === stepId)
  if (!step) throw new UserError(`lab ${lab.id} has no step "${stepId}"`, {hint: `its steps, by number or id: ${lab.steps.map((s, i) => `${i + 1}=${s.id}`).join(', ')}`})
  return step
}

export const readStepText = (lab: Lab, step: LabStep): string => (step.text ? readFileSync(join(lab.dir, step.text), 'utf8') : '')
