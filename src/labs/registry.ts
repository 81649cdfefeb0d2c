import type {LabModule} from './lab-module.js'
import {lab1} from './lab1/module.js'
import {lab2} from './lab2/module.js'
import {lab3} from './lab3/module.js'
import {lab4} from './lab4/module.js'

// Each lab's context is its own type; the engine only hands a module's context back to its checks.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyLabModule = LabModule<any>

// Every lab's module, by lab id: the one line to add for a new lab.
const MODULES: Record<number, AnyLabModule> = {1: lab1, 2: lab2, 3: lab3, 4: lab4}

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

export function labModule(lab: number): AnyLabModule | undefined {
  return MODULES[lab]
}

/** The ids of the labs that have a module (each must have a content folder, and each folder a module). */
export const registeredLabs = (): number[] => Object.keys(MODULES).map(Number)
