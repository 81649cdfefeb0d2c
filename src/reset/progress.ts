import {basename} from 'node:path'
import {ProgressStore, progressFiles} from '../host/progress.js'

// `reset --progress`: the learner's progress (steps done, hints seen) is their work, so reset
// forgets it only when asked, and says what stays when not.

/** The labs with progress recorded in any workspace, as "lab N (k steps done) in WORKSPACE". */
export function progressHeld(lab?: number): string[] {
  return progressFiles().flatMap((f) => {
    const store = new ProgressStore(f)
    // Older progress files do not say their workspace; their name holds its folder's name.
    const where = store.workspace() ?? `a workspace named ${basename(f).replace(/-[0-9a-f]{10}\.json$/, '')} (${f})`
    return Object.entries(store.all())
      .filter(([id]) => lab === undefined || Number(id) === lab)
      .map(([id, p]) => `lab ${id} (${Object.values(p.steps).filter((s) => s.done).length} step(s) done) in ${where}`)
  })
}

/** Forget lab `lab`'s progress (every lab's when none is named) in every workspace on this host. */
export function forgetProgress(lab?: number): void {
  for (const f of progressFiles()) new ProgressStore(f).resetLab(lab)
}
