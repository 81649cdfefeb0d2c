import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Lab, LabStep} from './catalogue.js'

/** Copy a lab's starter files into the workspace; never overwrite the learner's work. Returns what was created. */
export function ensureWorkspace(lab: Lab, dir: string): string[] {
  mkdirSync(dir, {recursive: true})
  const created: string[] = []
  for (const [name, rel] of Object.entries(lab.starter)) {
    const dest = join(dir, name)
    if (existsSync(dest)) continue
    copyFileSync(join(lab.dir, rel), dest)
    chmodSync(dest, statSync(join(lab.dir, rel)).mode & 0o777)
    created.push(dest)
  }
  return created
}

export interface SolutionFile {
  name: string
  workspacePath: string
  solutionPath: string
  differs: boolean
}

export function solutionFiles(lab: Lab, step: LabStep | undefined, dir: string): SolutionFile[] {
  const files = step ? step.solution : Object.assign({}, ...lab.steps.map((s) => s.solution)) as Record<string, string>
  return Object.entries(files).map(([name, rel]) => {
    const workspacePath = join(dir, name)
    const solutionPath = join(lab.dir, rel)
    const differs = !existsSync(workspacePath) || !readFileSync(workspacePath).equals(readFileSync(solutionPath))
    return {name, workspacePath, solutionPath, differs}
  })
}

/** Write the solution over the learner's file, keeping theirs as NAME.bak-TIMESTAMP. Returns the backups. */
export function applySolution(files: SolutionFile[]): string[] {
  const backups: string[] = []
  for (const f of files.filter((x) => x.differs)) {
    if (existsSync(f.workspacePath)) {
      const bak = `${f.workspacePath}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`
      copyFileSync(f.workspacePath, bak)
      backups.push(bak)
    }
    writeFileSync(f.workspacePath, readFileSync(f.solutionPath))
    chmodSync(f.workspacePath, statSync(f.solutionPath).mode & 0o777)
  }
  return backups
}
