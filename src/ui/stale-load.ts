import {join} from 'node:path'
import chalk from 'chalk'
import {loadedBeforeLastEdit} from '../bpf/pin-age.js'
import {workspaceDir} from '../host/paths.js'

/** One warning line when the workspace's ebpfcni.bpf.c is newer than the pinned programs; else undefined. */
export function staleLoadWarning(pinDir: string): string | undefined {
  const stale = loadedBeforeLastEdit(join(workspaceDir(), 'ebpfcni.bpf.c'), pinDir)
  if (!stale) return undefined
  return `${chalk.yellow('warning:')} ${stale.source} was saved after the programs in ${pinDir} were loaded (${stale.pinnedAt.toLocaleTimeString()}): what runs is the older code. Reload: ebpfcni bpf build && ebpfcni bpf load --replace (or run ebpfcni check, which loads its own build)`
}
