import {existsSync} from 'node:fs'
import {pathToFileURL} from 'node:url'
import type {Discoverer} from '../reset/actions.js'
import type {LabModule} from './lab-module.js'
import {loadLabs, type Lab} from './catalogue.js'

// Lab modules, discovered: a lab's module is the default export of module.ts in its folder,
// labs/NN-slug/ (compiled to dist/labs/NN-slug/module.js; catalogue.ts finds it). Modules load on
// first use, so `status` and `--help` never load koffi, the pods or the checks.

// Each lab's context is its own type; the engine only hands a module's context back to its checks.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyLabModule = LabModule<any>

const loaded = new Map<string, Promise<AnyLabModule | undefined>>()

/** The module of a catalogue entry, or undefined when its folder has none. */
export function moduleOf(lab: Lab): Promise<AnyLabModule | undefined> {
  const file = lab.moduleFile
  if (!existsSync(file)) return Promise.resolve(undefined)
  let m = loaded.get(file)
  if (!m) {
    m = import(pathToFileURL(file).href).then((x: {default?: AnyLabModule}) => {
      if (!x.default?.checks) throw new Error(`${file} has no default export of a lab module (files, checks, context)`)
      return x.default
    })
    loaded.set(file, m)
  }
  return m
}

export async function labModule(id: number): Promise<AnyLabModule | undefined> {
  const lab = loadLabs().find((l) => l.id === id)
  return lab ? moduleOf(lab) : undefined
}

/** The labs that have a module in their folder (a lab without one can only be read, not checked). */
export const labsWithModules = (): number[] =>
  loadLabs()
    .filter((l) => existsSync(l.moduleFile))
    .map((l) => l.id)

/** Lab `id` and every lab it builds on, transitively. */
export async function labAndFoundations(id: number): Promise<number[]> {
  const seen = new Set<number>()
  const visit = async (n: number): Promise<void> => {
    if (seen.has(n)) return
    seen.add(n)
    for (const b of (await labModule(n))?.buildsOn ?? []) await visit(b)
  }
  await visit(id)
  return [...seen].sort((a, b) => a - b)
}

/**
 * The reset discoverers for `reset LAB` (that lab's and its foundations'), or for every lab. A
 * lab's discoverers find what the learner's code made for it: their bridge, pins, stored rules.
 */
export async function labDiscoverers(lab?: number): Promise<Discoverer[]> {
  const ids = lab === undefined ? loadLabs().map((l) => l.id) : await labAndFoundations(lab)
  const mods = await Promise.all(ids.map(labModule))
  return mods.flatMap((m) => m?.discoverers ?? [])
}

/**
 * Where a lab's content and code disagree: an id a step lists that no check has (it would be
 * dropped silently, and the step could pass on nothing), a check no step lists (it would never
 * run), a step with no checks at all. Empty when they agree.
 */
export function checkIdsDisagree(steps: Array<{id: string; checks: string[]}>, codeIds: string[]): string[] {
  const listed = steps.flatMap((s) => s.checks)
  return [
    ...steps.filter((s) => s.checks.length === 0).map((s) => `step ${s.id} lists no checks`),
    ...steps.flatMap((s) =>
      s.checks.filter((id) => !codeIds.includes(id)).map((id) => `step ${s.id} lists ${id}, which no check has`),
    ),
    ...codeIds.filter((id) => !listed.includes(id)).map((id) => `check ${id} is in no step`),
  ]
}
