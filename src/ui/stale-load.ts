import {join} from 'node:path'
import chalk from 'chalk'
import {loadedBeforeLastEdit} from '../bpf/pin-age.js'
import {workspaceDir} from '../host/paths.js'

/** 24-hour HH:MM:SS in the machine's time zone, as `date` prints it (walked: "9:10:23 PM" beside date's 21:10). */
export const clockTime = (d: Date): string =>
  [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':')

/**
 * One warning line when the workspace's ebpfcni.bpf.c is newer than the programs pinned in pinDir;
 * else undefined. Every command that shows what the programs did says it (pod probe, policy apply,
 * bpf maps, metrics, topology): walked, the attendee looked at counts with metrics and bpf maps.
 */
export function staleLoadWarning(pinDir: string, workspace = workspaceDir()): string | undefined {
  const stale = loadedBeforeLastEdit(join(workspace, 'ebpfcni.bpf.c'), pinDir)
  if (!stale) return undefined
  return `${chalk.yellow('warning:')} ${stale.source} was saved after the programs in ${pinDir} were loaded (${clockTime(stale.pinnedAt)}): what runs is the older code. Reload: ebpfcni bpf build && ebpfcni bpf load --replace (or run ebpfcni check, which loads its own build)`
}
