import {join} from 'node:path'
import type {InstallTargets} from './install-targets.js'
import type {CheckDefinition} from './check-types.js'
import {LAB1_CHECKS} from './lab1/checks.js'
import {Lab1Context} from './lab1/context.js'
import {LAB2_CHECKS} from './lab2/checks.js'
import {Lab2Context} from './lab2/context.js'
import {LAB3_CHECKS} from './lab3/checks.js'
import {Lab3Context} from './lab3/context.js'
import {LAB4_CHECKS} from './lab4/checks.js'
import {Lab4Context} from './lab4/context.js'
import type {Ledger} from '../host/ledger.js'

export interface CheckRunOptions {
  targets: InstallTargets
  workspace: string
  runtime: 'netns' | 'podman' | 'cri'
  ledger: Ledger
  timeoutMs?: number
}

/** What the engine needs to check a lab: its checks, and a context that cleans up after itself. */
export interface LabChecks<Ctx = unknown> {
  /** workspace file -> [install dir key, file name, mode] */
  installs: Array<{workspaceFile: string; target: keyof InstallTargets; mode: number}>
  checks: Array<CheckDefinition<Ctx>>
  context: (o: CheckRunOptions) => Ctx & {cleanup(): Promise<void>}
}

/** What every lab context is made from: the installed plugin and config, and the run's options. */
const contextOptions = (o: CheckRunOptions, lab: number) => ({
  cniBinDir: o.targets.cniBinDir, configFile: join(o.targets.cniConfDir, '10-ebpfcni.conf'), runtime: o.runtime, ledger: o.ledger, timeoutMs: o.timeoutMs, workspace: o.workspace,
  // Lab 1 checks the plugin's own calls on netns pods; from lab 2 on, --runtime cri runs the traffic pods through containerd.
  criTraffic: o.runtime === 'cri' && lab >= 2, lab,
})

const lab1: LabChecks<Lab1Context> = {
  installs: [
    {workspaceFile: 'ebpfcni', target: 'cniBinDir', mode: 0o755},
    {workspaceFile: '10-ebpfcni.conf', target: 'cniConfDir', mode: 0o644},
  ],
  checks: LAB1_CHECKS,
  context: (o) => new Lab1Context(contextOptions(o, 1)),
}

const lab2: LabChecks<Lab2Context> = {
  installs: lab1.installs,
  checks: LAB2_CHECKS,
  context: (o) => new Lab2Context(contextOptions(o, 2)),
}

const lab3: LabChecks<Lab3Context> = {
  installs: lab1.installs,
  checks: LAB3_CHECKS,
  context: (o) => new Lab3Context(contextOptions(o, 3)),
}

const lab4: LabChecks<Lab4Context> = {
  installs: lab1.installs,
  checks: LAB4_CHECKS,
  context: (o) => new Lab4Context(contextOptions(o, 4)),
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
    ...steps.flatMap((s) => s.checks.filter((id) => !codeIds.includes(id)).map((id) => `step ${s.id} lists ${id}, which no check has`)),
    ...codeIds.filter((id) => !listed.includes(id)).map((id) => `check ${id} is in no step`),
  ]
}

const REGISTRY: Record<number, LabChecks<any>> = {1: lab1, 2: lab2, 3: lab3, 4: lab4} // eslint-disable-line @typescript-eslint/no-explicit-any

export function labChecks(lab: number): LabChecks<any> | undefined { // eslint-disable-line @typescript-eslint/no-explicit-any
  return REGISTRY[lab]
}
