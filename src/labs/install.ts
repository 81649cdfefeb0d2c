import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {backupsDir, workspaceDir} from '../host/paths.js'
import {pluginOnPath, pluginType} from '../cni/config.js'

/**
 * Install a workspace file where a runtime reads it, recorded in the ledger first.
 * The first time the tool replaces a file it did not make, the original is backed up
 * and reset restores it.
 */
export function installFile(ledger: Ledger, src: string, dest: string, opts: {lab: number; mode: number}): void {
  const known = ledger.find((e) => e.kind === 'file' && e.name === dest)
  if (known.length === 0) {
    let backup: string | undefined
    if (existsSync(dest)) {
      mkdirSync(backupsDir(), {recursive: true})
      backup = join(backupsDir(), `${basename(dest)}.${Date.now()}`)
      copyFileSync(dest, backup)
    }
    ledger.record('file', dest, {lab: opts.lab, details: backup ? {backup} : {}})
  }
  mkdirSync(join(dest, '..'), {recursive: true})
  if (existsSync(dest) && readFileSync(dest).equals(readFileSync(src))) {
    chmodSync(dest, opts.mode)
    return
  }
  copyFileSync(src, dest)
  chmodSync(dest, opts.mode)
}

/**
 * Whether the plugin a runtime runs is not the workspace's file: edited since `check` installed it.
 * Nothing installed, or no workspace file, is not a difference (the run says so itself).
 */
export function installedCopyDiffers(workspaceFile: string, installed: string): boolean {
  try {
    return !readFileSync(installed).equals(readFileSync(workspaceFile))
  } catch {
    return false
  }
}

/**
 * The plugin a runtime runs for `configFile` (found on `cniPath` as it finds it) and the
 * workspace's file of that name: `pod add` runs the installed copy, only `check` installs the
 * workspace's, so `differs` says the learner's edit is not what runs.
 */
export function pluginCopies(configFile: string, cniPath: string): {installed: string; mine: string; differs: boolean} {
  const type = pluginType(configFile)
  const installed = pluginOnPath(cniPath, type)
  const mine = join(workspaceDir(), type)
  return {installed, mine, differs: installedCopyDiffers(mine, installed)}
}
