import {join} from 'node:path'
import type {Ledger} from '../host/ledger.js'
import type {CheckDefinition} from '../checks/engine.js'
import type {InstallTargets} from './install-targets.js'

// What a lab's module gives the engine: where its workspace files are installed, its checks,
// and the context they run in. One module per lab (src/labs/labN/module.ts), registered in
// registry.ts by one line.

export interface CheckRunOptions {
  targets: InstallTargets
  workspace: string
  runtime: 'netns' | 'podman' | 'cri'
  ledger: Ledger
  timeoutMs?: number
}

/** What the engine needs to check a lab: its checks, and a context that cleans up after itself. */
export interface LabModule<Ctx = unknown> {
  /** workspace file -> [install dir key, file name, mode] */
  installs: Array<{workspaceFile: string; target: keyof InstallTargets; mode: number}>
  checks: Array<CheckDefinition<Ctx>>
  context: (o: CheckRunOptions) => Ctx & {cleanup(): Promise<void>}
}

/** The workspace files labs 1 to 4 install: the plugin, and its network config. */
export const PLUGIN_INSTALLS: LabModule['installs'] = [
  {workspaceFile: 'ebpfcni', target: 'cniBinDir', mode: 0o755},
  {workspaceFile: '10-ebpfcni.conf', target: 'cniConfDir', mode: 0o644},
]

/** What every lab context is made from: the installed plugin and config, and the run's options. */
export const contextOptions = (o: CheckRunOptions, lab: number) => ({
  cniBinDir: o.targets.cniBinDir,
  configFile: join(o.targets.cniConfDir, '10-ebpfcni.conf'),
  runtime: o.runtime,
  ledger: o.ledger,
  timeoutMs: o.timeoutMs,
  workspace: o.workspace,
  // Lab 1 checks the plugin's own calls on netns pods; from lab 2 on, --runtime cri runs the traffic pods through containerd.
  criTraffic: o.runtime === 'cri' && lab >= 2,
  lab,
})
