import {run} from '../host/exec.js'
import type {SolutionFile} from './workspace.js'

/** One workspace file against its reference: the same, or a unified diff from yours to it. */
export interface SolutionDiff {
  file: string
  matches: boolean
  diff?: string
}

/** What `solution N` shows, and the menu's "diff": each file's unified diff to the reference. */
export async function solutionDiffs(files: SolutionFile[]): Promise<SolutionDiff[]> {
  const out: SolutionDiff[] = []
  for (const f of files) {
    if (!f.differs) {
      out.push({file: f.name, matches: true})
      continue
    }
    const d = await run(
      'diff',
      ['-u', '--label', `yours/${f.name}`, '--label', `solution/${f.name}`, f.workspacePath, f.solutionPath],
      {timeoutMs: 5000},
    )
    out.push({file: f.name, matches: false, diff: d.stdout})
  }
  return out
}
