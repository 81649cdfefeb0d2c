import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import {join, resolve} from 'node:path'
import {loadLabs as labs, type Lab, type LabStep} from './catalogue.js'
import {fileStamp} from '../host/atomic-file.js'
import {UserError} from '../host/errors.js'
import {defaultWorkspaceDir} from '../host/paths.js'

/**
 * A workspace folder that exists, or a usage error saying how to make one: progress (hints seen,
 * checks run) is recorded per workspace, so none is recorded for a folder that is not there.
 */
export function requireWorkspace(dir: string, lab: number, named: boolean): void {
  const open = `ebpfcni lab ${lab}${named ? ` --workspace ${dir}` : ''}`
  let isDir: boolean
  try {
    isDir = statSync(dir).isDirectory()
  } catch {
    throw new UserError(`there is no workspace at ${dir}`, {
      hint: `${open} creates it${named ? '; without --workspace it is ~/ebpfcni-lab' : ''}`,
    })
  }
  if (!isDir) throw new UserError(`the workspace ${dir} is a file, not a folder`, {hint: 'give --workspace a folder'})
}

/**
 * A hint or message as the learner should read it: texts name the default workspace
 * (~/ebpfcni-lab), and another one in use (--workspace, EBPFCNI_WORKSPACE) is named instead.
 */
export function inWorkspace(text: string, workspace: string): string {
  return resolve(workspace) === defaultWorkspaceDir() ? text : text.replaceAll('~/ebpfcni-lab', workspace)
}

/** What opening a lab did to one workspace file. */
export interface WorkspaceChange {
  file: string
  action: 'created' | 'set-aside' | 'restored' | 'replaced'
  /** Where the learner's own version went (set-aside, replaced), or came from (restored). */
  other?: string
}

/** Which lab each shared workspace file currently belongs to (the workspace is one folder for all labs). */
const STATE_FILE = '.ebpfcni-workspace.json'
interface WorkspaceState {
  owners: Record<string, number>
}

function readState(dir: string): WorkspaceState {
  try {
    const s = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as WorkspaceState
    return s && typeof s.owners === 'object' ? s : {owners: {}}
  } catch {
    return {owners: {}}
  }
}

/** Write the owners back, unless they are what the file already says (reopening a lab changes nothing). */
function writeState(dir: string, state: WorkspaceState): void {
  const path = join(dir, STATE_FILE)
  const text = `${JSON.stringify(state, null, 2)}\n`
  if (!existsSync(path) || readFileSync(path, 'utf8') !== text) writeFileSync(path, text)
}

/** Whether a file is still exactly the starter lab `owner` gave for it. */
function untouchedStarter(owner: number, name: string, path: string): boolean {
  const lab = labs().find((l) => l.id === owner)
  const rel = lab?.starter[name]
  return (
    lab !== undefined &&
    rel !== undefined &&
    existsSync(join(lab.dir, rel)) &&
    readFileSync(path).equals(readFileSync(join(lab.dir, rel)))
  )
}

/** Copy a lab's file into the workspace with its permissions (the plugin is executable). */
function copyLabFile(src: string, dest: string): void {
  copyFileSync(src, dest)
  chmodSync(dest, statSync(src).mode & 0o777)
}

const copyStarter = (lab: Lab, rel: string, dest: string): void => copyLabFile(join(lab.dir, rel), dest)

/**
 * Bring the workspace to lab N's files, never losing the learner's work:
 *  - a missing file comes from the starter (or from NAME.labN, the learner's own from earlier);
 *  - a file the lab continues from an earlier lab (its starter is an earlier lab's solution, like
 *    the plugin in labs 2 to 4) carries over as the learner left it;
 *  - a file the lab brings new scaffolding for (its own starter, with TODO markers), but which
 *    belongs to another lab, is set aside as NAME.labK and the lab's starter (or the learner's
 *    earlier NAME.labN) takes its place; going back swaps again;
 *  - fresh: every starter file is replaced by the starter, the learner's kept as NAME.bak-TIME.
 * A file with no record (a workspace from before the records) is taken to be this lab's.
 */
export function ensureWorkspace(lab: Lab, dir: string, opts: {fresh?: boolean} = {}): WorkspaceChange[] {
  mkdirSync(dir, {recursive: true})
  const state = readState(dir)
  const changes: WorkspaceChange[] = []
  for (const [name, rel] of Object.entries(lab.starter)) {
    const dest = join(dir, name)
    const mine = `${dest}.lab${lab.id}`
    const owner = state.owners[name]
    const ownScaffolding = !rel.startsWith('../')
    // The learner's own version of this lab's file, if they had one; else the starter.
    const restoreOrCreate = (): void => {
      if (ownScaffolding && existsSync(mine)) {
        renameSync(mine, dest)
        changes.push({file: dest, action: 'restored', other: mine})
      } else {
        copyStarter(lab, rel, dest)
        changes.push({file: dest, action: 'created'})
      }
      state.owners[name] = lab.id
    }
    if (!existsSync(dest)) {
      restoreOrCreate()
    } else if (opts.fresh) {
      const bak = `${dest}.bak-${fileStamp()}`
      copyFileSync(dest, bak)
      copyStarter(lab, rel, dest)
      changes.push({file: dest, action: 'replaced', other: bak})
      state.owners[name] = lab.id
    } else if (owner === undefined || owner === lab.id || !ownScaffolding) {
      state.owners[name] ??= lab.id
    } else if (readFileSync(dest).equals(readFileSync(join(lab.dir, rel)))) {
      state.owners[name] = lab.id
    } else if (untouchedStarter(owner, name, dest)) {
      // Nothing of the learner's in it: the new starter simply takes its place.
      copyStarter(lab, rel, dest)
      changes.push({file: dest, action: 'created'})
      state.owners[name] = lab.id
    } else {
      const aside = `${dest}.lab${owner}`
      if (existsSync(aside)) renameSync(aside, `${aside}.bak-${fileStamp()}`)
      renameSync(dest, aside)
      changes.push({file: dest, action: 'set-aside', other: aside})
      restoreOrCreate()
    }
  }
  writeState(dir, state)
  return changes
}

/** One line per change, for the learner. */
export function describeChange(change: WorkspaceChange, labId: number): string {
  switch (change.action) {
    case 'created':
      return `${change.file}: lab ${labId}'s starter`
    case 'restored':
      return `${change.file}: your lab ${labId} version again (from ${change.other})`
    case 'set-aside':
      return `${change.file}: your version from another lab is kept as ${change.other}`
    case 'replaced':
      return `${change.file}: lab ${labId}'s starter; yours is kept as ${change.other}`
  }
}

export interface SolutionFile {
  name: string
  workspacePath: string
  solutionPath: string
  differs: boolean
}

export function solutionFiles(lab: Lab, step: LabStep | undefined, dir: string): SolutionFile[] {
  const files = step
    ? step.solution
    : (Object.assign({}, ...lab.steps.map((s) => s.solution)) as Record<string, string>)
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
      const bak = `${f.workspacePath}.bak-${fileStamp()}`
      copyFileSync(f.workspacePath, bak)
      backups.push(bak)
    }
    copyLabFile(f.solutionPath, f.workspacePath)
  }
  return backups
}
