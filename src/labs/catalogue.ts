import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {z} from 'zod'
import {labsRoot} from '../host/paths.js'
import {UserError} from '../host/errors.js'

/** lab.yaml, validated by a schema: a wrong field is named by its path, an unknown one is refused. */
const StepSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a step id is lowercase letters, digits and -'),
    title: z.string().min(1),
    /** Markdown file, relative to the lab's directory. */
    text: z.string().min(1),
    /** core: on the workshop's 90-minute path; stretch: optional, for those ahead. */
    level: z.enum(['core', 'stretch']),
    /** Planned minutes for someone who knows bash and a little C. */
    minutes: z.number().int().positive(),
    /** Check ids this step runs (`check N --step S`); never empty. */
    checks: z.array(z.string()).min(1, 'a step needs at least one check'),
    hints: z.array(z.string()).default([]),
    /** workspace file name -> file in the lab directory holding this step's solution. */
    solution: z.record(z.string()).default({}),
  })
  .strict()

const LabSchema = z
  .object({
    id: z.number().int().positive(),
    slug: z.string().min(1),
    title: z.string().min(1),
    goal: z.string().min(1),
    /** workspace file name -> starter file in the lab directory, copied when the lab starts. */
    starter: z.record(z.string()),
    steps: z.array(StepSchema).min(1),
  })
  .strict()

export type LabStep = z.infer<typeof StepSchema>
export type Lab = z.infer<typeof LabSchema> & {dir: string}

function validate(raw: unknown, file: string): Omit<Lab, 'dir'> {
  const r = LabSchema.safeParse(raw)
  if (r.success) return r.data
  const issues = r.error.issues.map(
    (i) =>
      `${
        i.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
          .join('')
          .replace(/^\./, '') || '(file)'
      }: ${i.message}`,
  )
  throw new Error(`${file}: ${issues.join('; ')}`)
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
  if (!lab)
    throw new UserError(`there is no lab ${id}`, {
      hint: `the labs: ${labs.map((l) => `${l.id} (${l.title})`).join(', ') || 'none'}`,
    })
  return lab
}

export function getStep(lab: Lab, stepId?: string): LabStep | undefined {
  if (stepId === undefined) return undefined
  const step = lab.steps.find((s) => s.id === stepId || String(lab.steps.indexOf(s) + 1) === stepId)
  if (!step)
    throw new UserError(`lab ${lab.id} has no step "${stepId}"`, {
      hint: `its steps, by number or id: ${lab.steps.map((s, i) => `${i + 1}=${s.id}`).join(', ')}`,
    })
  return step
}

export const readStepText = (lab: Lab, step: LabStep): string =>
  step.text ? readFileSync(join(lab.dir, step.text), 'utf8') : ''
