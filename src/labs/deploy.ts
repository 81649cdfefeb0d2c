import {existsSync, readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {buildBpf} from '../bpf/build.js'
import {loadAndPin} from '../bpf/programs.js'
import {Ledger} from '../host/ledger.js'
import {applySolution, type SolutionFile} from './workspace.js'
import {BPF_PIN_ROOT} from '../host/paths.js'

// What a learner types after editing the program — ebpfcni bpf build && ebpfcni bpf load
// … --replace — done for them when a solution is applied (auto, solution --apply), so the
// workspace, the pins and the checks agree.

/** The pin dir the workspace's config points the plugin at (xdpPin), or the lab default. */
export function workspacePinDir(workspace: string): string {
  try {
    const conf = JSON.parse(readFileSync(join(workspace, '10-ebpfcni.conf'), 'utf8')) as {xdpPin?: unknown}
    if (typeof conf.xdpPin === 'string' && conf.xdpPin) return dirname(conf.xdpPin)
  } catch {
    /* no or broken config: the default */
  }
  return BPF_PIN_ROOT
}

/** Build and load the workspace's ebpfcni.bpf.c (if there is one). Returns what happened, in words. */
export async function loadWorkspaceProgram(
  workspace: string,
  opts: {lab: number; ledger?: Ledger},
): Promise<string | undefined> {
  const source = join(workspace, 'ebpfcni.bpf.c')
  if (!existsSync(source)) return undefined
  const built = await buildBpf(source, join(workspace, 'ebpfcni.bpf.o'))
  if (!built.ok) return `the program does not compile (${built.errors} error(s)): not loaded`
  const pinDir = workspacePinDir(workspace)
  const out = loadAndPin(built.object, {pinDir, ledger: opts.ledger ?? new Ledger(), lab: opts.lab, replace: true})
  return out.ok
    ? `built and loaded ebpfcni.bpf.c (pinned under ${pinDir})`
    : 'the verifier refused the program: not loaded (ebpfcni bpf load shows why)'
}

/** Write solution files over the learner's (backed up) and, when the program changed, build and load it. */
export async function applySolutionAndLoad(
  files: SolutionFile[],
  workspace: string,
  opts: {lab: number; ledger?: Ledger},
): Promise<{backups: string[]; loaded?: string}> {
  const backups = applySolution(files)
  const loaded = files.some((f) => f.differs && f.name === 'ebpfcni.bpf.c')
    ? await loadWorkspaceProgram(workspace, opts)
    : undefined
  return {backups, loaded}
}
