import {execa} from 'execa'
import {mkdtempSync, rmSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

export const repoRoot = resolve(import.meta.dirname, '../..')
export const cliBin = join(repoRoot, 'bin/run.js')

/** A private state dir for a test file, so tests never touch the learner's ledger/progress. */
export function tempStateDir(prefix = 'ebpfcni-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** Integration tests need the compiled CLI; say so clearly rather than failing obscurely. */
export function requireBuilt(): void {
  if (!existsSync(join(repoRoot, 'dist/commands')) || !existsSync(join(repoRoot, 'oclif.manifest.json'))) {
    throw new Error('dist/ is missing: run `npm run build` (scripts/test.sh does it)')
  }
}

export function requireRoot(): void {
  if (process.getuid?.() !== 0)
    throw new Error('integration tests need root (netns, links, BPF): run bash scripts/test.sh as root')
}

/** Unique short suffix for names of host objects a test makes (ifnames are <= 15 chars). */
export const uniq = (): string => `${process.pid.toString(36).slice(-3)}${Math.random().toString(36).slice(2, 5)}`

/**
 * The CLI as an attendee runs it, for a test file: its env, no stdin, a time bound; a non-zero
 * exit is a result to look at, not a throw. Per call: extra env, another bound.
 */
export const cliRunner =
  (env: Record<string, string>, timeoutMs = 120_000) =>
  (args: string[], extraEnv: Record<string, string> = {}, timeout = timeoutMs) =>
    execa('node', [cliBin, ...args], {reject: false, env: {...env, ...extraEnv}, timeout, stdin: 'ignore'})
