import {join} from 'node:path'
import type {Ledger} from '../host/ledger.js'
import type {Discoverer} from '../reset/actions.js'
import type {CheckDefinition} from '../checks/engine.js'
import type {InstallTargets} from './install-targets.js'
import type {ApiServer} from '../policy/kubernetes-api.js'

// What a lab's module gives the engine. A lab is one folder, labs/NN-slug/: its content (lab.yaml,
// step texts, starter, solution), its module (module.ts, default export), checks and tests. It is
// discovered (catalogue.ts, registry.ts): nothing else names a lab number.

/** The workspace files a lab works on, by role. Other files (policy.yaml) are just starters. */
export interface WorkspaceFiles {
  /** The CNI plugin: installed to the CNI bin dir, executable. */
  plugin?: string
  /** Its network config: installed to the CNI config dir. */
  config?: string
  /** The eBPF C source: built to NAME.o and loaded when it changes (solution --apply, auto). */
  program?: string
}

export interface CheckRunOptions {
  /** The lab being checked: what the run makes is recorded under it. */
  lab: number
  targets: InstallTargets
  workspace: string
  runtime: 'netns' | 'podman' | 'cri'
  ledger: Ledger
  timeoutMs?: number
}

/** What the engine needs from a lab: its files, checks, a context that cleans up, and its reset. */
export interface LabModule<Ctx = unknown> {
  files: WorkspaceFiles
  /**
   * The labs whose host state this one keeps using (lab 3 builds on lab 2's pins, lab 2 on lab 1's
   * plugin): `reset N` also runs their discoverers.
   */
  buildsOn: number[]
  /** The checks, by id; the order they run in comes from lab.yaml's steps. */
  checks: Array<CheckDefinition<Ctx>>
  context: (o: CheckRunOptions) => Ctx & {cleanup(): Promise<void>}
  /** What the learner's own code made that no ledger names (their bridge, pins, stored rules). */
  discoverers?: Discoverer[]
  /** A node agent that runs the lab's work on a cluster (`ebpfcni agent N`, `export kubernetes`). */
  agent?: LabAgent
}

/** What a lab's node agent is given: its files, the node's cgroup (v2), the API, where to pin. */
export interface LabAgentRunOptions {
  /** Where the files of `files()` are (on a node: the ConfigMap's mount). */
  filesDir: string
  cgroup: string
  api: ApiServer
  pinDir: string
  resyncMs: number
  log: (line: string) => void
  /** Resolves when the agent must stop (a signal, --for). */
  stop: Promise<void>
}

/** A lab's node agent: run by `ebpfcni agent N`, put on every node by `export kubernetes`. */
export interface LabAgent {
  /** What it does, in one line (the export's README, `agent --help`). */
  summary: string
  /** The step whose work it runs: `export kubernetes` includes it once that step is done. */
  step: string
  /** The files it runs from, made from the workspace (name -> bytes; built objects included). */
  files: (workspace: string) => Promise<Record<string, Buffer>>
  /** What it reads from the Kubernetes API: its ClusterRole's rules. */
  rbac: Array<{apiGroups: string[]; resources: string[]; verbs: string[]}>
  run: (o: LabAgentRunOptions) => Promise<void>
}

/** The plugin, its config and the program of labs 1 to 4 (DESIGN's workspace contract). */
export const PLUGIN_FILES = {plugin: 'ebpfcni', config: '10-ebpfcni.conf'} as const
export const PROGRAM_FILES = {...PLUGIN_FILES, program: 'ebpfcni.bpf.c'} as const

/** Where each installed workspace file goes, and its mode. */
export function installsOf(
  files: WorkspaceFiles,
): Array<{workspaceFile: string; target: keyof InstallTargets; mode: number}> {
  return [
    ...(files.plugin ? [{workspaceFile: files.plugin, target: 'cniBinDir' as const, mode: 0o755}] : []),
    ...(files.config ? [{workspaceFile: files.config, target: 'cniConfDir' as const, mode: 0o644}] : []),
  ]
}

/** The object file clang writes for a program source. */
export const objectOf = (program: string): string => program.replace(/\.c$/, '') + '.o'

/** What every plugin lab's context is made from: the installed plugin and config, and the run's options. */
export const contextOptions = (o: CheckRunOptions, files: WorkspaceFiles, more: {criTraffic?: boolean} = {}) => ({
  cniBinDir: o.targets.cniBinDir,
  configFile: join(o.targets.cniConfDir, files.config ?? PLUGIN_FILES.config),
  runtime: o.runtime,
  ledger: o.ledger,
  timeoutMs: o.timeoutMs,
  workspace: o.workspace,
  // With --runtime cri, labs whose traffic pods matter run them through containerd (criTraffic).
  criTraffic: o.runtime === 'cri' && Boolean(more.criTraffic),
  lab: o.lab,
})
