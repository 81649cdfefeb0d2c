import {existsSync} from 'node:fs'
import {isAbsolute, join, resolve} from 'node:path'
import {Args} from '#oclif'
import chalk from 'chalk'
import {UserError} from '../host/errors.js'
import {workspaceDir} from '../host/paths.js'
import {pinDirFlag as pinDir} from './bpf-flags.js'
import type {PolicySyncResult} from '../policy/service.js'

/** Flags every `policy` command shares: the same --pin-dir as the bpf commands. */
export const pinDirFlag = {'pin-dir': pinDir}

/** FROM and TO of the rule commands (deny, allow, remove). */
export const ruleArgs = {
  from: Args.string({ignoreStdin: true, description: 'Sending pod (name or IPv4).', required: true}),
  to: Args.string({ignoreStdin: true, description: 'Receiving pod (name or IPv4).', required: true}),
}

/** What a rule command did, in one line. */
export const ruleWritten = (verdict: string, from: string, to: string, sync: PolicySyncResult): string =>
  `${chalk.green('✔')} ${verdict} ${from} → ${to} (${sync.mode} design; ${sync.written} entr${sync.written === 1 ? 'y' : 'ies'} written, ${sync.removed} removed)`

/** What deny and allow say about FROM and TO, in both designs. */
export const RULE_DESCRIPTION =
  "FROM and TO are pod names (ebpfcni pod list) or IPv4 addresses. The rule is stored and written to the pinned maps at once; a rule for the same pair replaces it. In the identity design (lab 4 step 4) FROM and TO must be pods: the rule is written on TO's endpoint for FROM's identity, so it covers every pod with FROM's labels."

/** What the agent's attach did: which pods now run the pinned to_pod that did not before. */
export function toPodAttached(sync: PolicySyncResult): string {
  if (!sync.endpoints) return chalk.dim('to_pod: attached to no pod (no pod known, or no to_pod pinned)')
  const n = sync.endpoints
  const changed = sync.reattached
  return changed.length
    ? `${chalk.green('✔')} to_pod attached to ${changed.length} of ${n} pod(s): ${changed.join(', ')} (they ran another to_pod, or none); the rest already ran it`
    : chalk.dim(`to_pod: all ${n} pod(s) already run the pinned to_pod`)
}

/**
 * The NetworkPolicy file `policy apply FILE` reads: FILE as given when it exists; else, for a
 * relative FILE, the workspace's (the lab's policy.yaml is there, and the step text says
 * `policy apply policy.yaml`), with `note` saying which was taken. Neither: an error naming both.
 */
export function policyFile(file: string, workspace?: string): {path: string; note?: string} {
  if (existsSync(file) || isAbsolute(file)) return {path: file}
  const ws = workspaceDir(workspace)
  const inWs = join(ws, file)
  if (existsSync(inWs))
    return {path: inWs, note: `${file} is not in ${process.cwd()}: applying ${inWs} (your workspace's)`}
  throw new UserError(
    `cannot read ${file}: no such file in ${process.cwd()}, nor in your workspace (${resolve(inWs)})`,
    {
      hint: 'give its path, or run the command from your workspace (-w/EBPFCNI_WORKSPACE names another workspace)',
    },
  )
}
