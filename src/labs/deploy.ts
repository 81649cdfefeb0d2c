import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {buildBpf} from '../bpf/build.js'
import {loadAndPin} from '../bpf/programs.js'
import {Ledger} from '../host/ledger.js'
import {applySolution, type SolutionFile} from './workspace.js'
import {BPF_PIN_ROOT} from '../host/paths.js'
import {labModule} from './registry.js'
import {objectOf, type WorkspaceFiles} from './lab-module.js'

// What a learner types after editing the program — ebpfcni bpf build && ebpfcni bpf load
// … --replace — done for them when a solution is applied (auto, solution --apply), so the
// workspace, the pins and the checks agree.

/** The pin dir the workspace's config points the plugin at (xdpPin), or the lab default. */
export function workspacePinDir(workspace: string, files: WorkspaceFiles): string {
  try {
    if (!files.config) return BPF_PIN_ROOT
    const conf = JSON.parse(readFileSync(join(workspace, files.config), 'utf8')) as {xdpPin?: unknown}
    if (typeof conf.xdpPin === 'string' && conf.xdpPin) return dirname(conf.xdpPin)
  } catch {
    /* no or broken config: the default */
  }
  return BPF_PIN_ROOT
}

/** Build and load the lab's program from the workspace (if it has one). Returns what happened, in words. */
export async function loadWorkspaceProgram(
  workspace: string,
  opts: {lab: number; ledger?: Ledger},
): Promise<string | undefined> {
  const files = (await labModule(opts.lab))?.files ?? {}
  if (!files.program) return undefined
  const source = join(workspace, files.program)
  if (!existsSync(source)) return undefined
  const built = await buildBpf(source, join(workspace, objectOf(files.program)))
  if (!built.ok) return `the program does not compile (${built.errors} error(s)): not loaded`
  const pinDir = workspacePinDir(workspace, files)
  const out = loadAndPin(built.object, {pinDir, ledger: opts.ledger ?? new Ledger(), lab: opts.lab, replace: true})
  return out.ok
    ? `built and loaded ${files.program} (pinned under ${pinDir})`
    : 'the verifier refused the program: not loaded (ebpfcni bpf load shows why)'
}

/** Write solution files over the learner's (backed up) and, when the program changed, build and load it. */
export async function applySolutionAndLoad(
  files: SolutionFile[],
  workspace: string,
  opts: {lab: number; ledger?: Ledger},
): Promise<{backups: string[]; loaded?: string}> {
  const backups = applySolution(files)
  const program = (await labModule(opts.lab))?.files.program
  const loaded = files.some((f) => f.differs && f.name === program)
    ? await loadWorkspaceProgram(workspace, opts)
    : undefined
  return {backups, loaded}
}
