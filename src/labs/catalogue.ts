import {existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import type {z} from 'zod'
import {labsRoot, stateDir} from '../host/paths.js'
import {UserError} from '../host/errors.js'

// yaml and zod load only when a lab.yaml changed since the last run (a cache keyed by each file's
// size and mtime holds the validated labs): `status`, `hint` and `--help` start without them.
const requireCjs = createRequire(import.meta.url)

/** lab.yaml, validated by a schema: a wrong field is named by its path, an unknown one is refused. */
function schemas() {
  const {z} = requireCjs('zod') as typeof import('zod')
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
  return {StepSchema, LabSchema}
}
type Schemas = ReturnType<typeof schemas>

export type LabStep = z.infer<Schemas['StepSchema']>
export type Lab = z.infer<Schemas['LabSchema']> & {
  /** Its content folder (labs/NN-slug). */
  dir: string
  /** Its module (see moduleFileOf): in its own folder, or compiled to dist/labs/NN-slug/. */
  moduleFile: string
}

type LabContent = Omit<Lab, 'dir' | 'moduleFile'>

function validate(raw: unknown, file: string): LabContent {
  const r = schemas().LabSchema.safeParse(raw)
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

interface CatalogueCache {
  version: 1
  /** lab.yaml path -> its size:mtime when it was validated, and what it said. */
  labs: Record<string, {stamp: string; lab: LabContent}>
}
const cachePath = (): string => join(stateDir(), 'cache', 'catalogue.json')
let cache: CatalogueCache | undefined

function readCache(): CatalogueCache {
  if (cache) return cache
  try {
    const c = JSON.parse(readFileSync(cachePath(), 'utf8')) as CatalogueCache
    if (c.version === 1 && typeof c.labs === 'object') return (cache = c)
  } catch {
    /* no cache yet, or an unreadable one: parse the files */
  }
  return (cache = {version: 1, labs: {}})
}

/** One lab.yaml, parsed and validated, or taken from the cache while the file is unchanged. */
function readLabYaml(file: string): LabContent {
  const st = statSync(file)
  const stamp = `${st.size}:${st.mtimeMs}`
  const c = readCache()
  const hit = c.labs[file]
  if (hit?.stamp === stamp) return hit.lab
  const {parse} = requireCjs('yaml') as typeof import('yaml')
  const lab = validate(parse(readFileSync(file, 'utf8')), file)
  c.labs[file] = {stamp, lab}
  try {
    mkdirSync(dirname(cachePath()), {recursive: true})
    writeFileSync(cachePath(), JSON.stringify(c))
  } catch {
    /* a cache that cannot be written (not root) only costs the next start its parse */
  }
  return lab
}

/** The package's compiled labs live beside the engine: dist/labs/NN-slug/ (tsconfig.labs.json). */
const packageModulesDir = dirname(fileURLToPath(import.meta.url))
/** Run from source (vitest), a lab's module is its folder's module.ts, not a compiled copy. */
const fromSource = fileURLToPath(import.meta.url).endsWith('.ts')

/** A lab's module: its folder's module.ts, compiled to dist/labs/NN-slug/module.js (its module.ts from source). */
const moduleFileOf = (labDir: string, folder: string): string =>
  fromSource ? join(labDir, 'module.ts') : join(packageModulesDir, folder, 'module.js')

/**
 * Every lab: the folders labs/NN-slug/ with a lab.yaml, by id. The folder's number is the lab's id,
 * and an id is taken once.
 */
export function loadLabs(root?: string): Lab[] {
  const content = root ?? labsRoot()
  const labs = !existsSync(content)
    ? []
    : readdirSync(content)
        .filter((d) => /^\d\d-/.test(d) && existsSync(join(content, d, 'lab.yaml')))
        .map((d) => {
          const file = join(content, d, 'lab.yaml')
          const lab = readLabYaml(file)
          if (lab.id !== Number(d.slice(0, 2)))
            throw new Error(`${file}: id ${lab.id} does not match its folder ${d} (the folder's number is the id)`)
          return {...lab, dir: join(content, d), moduleFile: moduleFileOf(join(content, d), d)}
        })
  const ids = labs.map((l) => l.id)
  const twice = ids.find((id, i) => ids.indexOf(id) !== i)
  if (twice !== undefined)
    throw new Error(
      `two lab folders claim lab ${twice}: ${labs
        .filter((l) => l.id === twice)
        .map((l) => l.dir)
        .join(', ')}`,
    )
  return labs.sort((a, b) => a.id - b.id)
}

export function getLab(id: number, root?: string): Lab {
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
