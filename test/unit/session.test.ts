import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ProgressStore} from '../../src/host/progress.js'
import {getLab} from '../../src/labs/catalogue.js'
import {LabSession} from '../../src/labs/session.js'

// One rule for "the current step", asked by lab, hint, the menu and watch mode alike.
describe('LabSession', () => {
  let dir: string
  let progress: ProgressStore
  const lab = getLab(1)
  const [skeleton, add, del] = lab.steps
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ebpfcni-session-'))
    progress = new ProgressStore(join(dir, 'progress.json'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('starts at the first step; stays where the learner moved, even past an unfinished step', () => {
    const s = new LabSession(lab, dir, progress)
    expect(s.currentStep().id).toBe(skeleton.id)
    s.moveTo(del)
    // Before the session, `hint` answered the first unfinished step here (skeleton) while `lab` showed del.
    expect(new LabSession(lab, dir, progress).currentStep().id).toBe(del.id)
  })

  it('a done step gives way to the first unfinished one; --step wins; an unknown --step is an error', () => {
    const s = new LabSession(lab, dir, progress)
    s.moveTo(skeleton)
    progress.recordCheck(lab.id, skeleton.id, 3, 3)
    expect(s.currentStep().id).toBe(add.id)
    expect(s.currentStep(del.id).id).toBe(del.id)
    expect(() => s.currentStep('nope')).toThrow(/nope/)
    expect(s.nextStep(add)?.id).toBe(del.id)
    expect(s.nextStep(lab.steps.at(-1)!)).toBeUndefined()
  })

  it('a step whose check fails after it passed is pending again; startOver forgets the lab', () => {
    const s = new LabSession(lab, dir, progress)
    progress.recordCheck(lab.id, skeleton.id, 3, 3)
    expect(s.isDone(skeleton)).toBe(true)
    progress.recordCheck(lab.id, skeleton.id, 2, 3)
    expect(s.isDone(skeleton)).toBe(false)
    expect(s.status().steps[0]).toMatchObject({done: false, doneAt: null, attempts: 2})
    progress.recordCheck(lab.id, skeleton.id, 3, 3)
    s.nextHints(add)
    s.startOver()
    expect(s.status()).toMatchObject({startedAt: null, stepsDone: 0})
    expect(s.status().steps[1].hintsSeen).toBe(0)
  })

  it('progress belongs to the workspace: another workspace starts at step 1', () => {
    const state = process.env.EBPFCNI_STATE_DIR
    process.env.EBPFCNI_STATE_DIR = dir
    try {
      const mine = new LabSession(lab, join(dir, 'mine'))
      mine.progress.recordCheck(lab.id, skeleton.id, 3, 3)
      expect(new LabSession(lab, join(dir, 'mine')).currentStep().id).toBe(add.id)
      expect(new LabSession(lab, join(dir, 'theirs')).currentStep().id).toBe(skeleton.id)
    } finally {
      if (state === undefined) delete process.env.EBPFCNI_STATE_DIR
      else process.env.EBPFCNI_STATE_DIR = state
    }
  })

  it('hints come one more at a time, up to the last', () => {
    const s = new LabSession(lab, dir, progress)
    const total = add.hints.length
    expect(total).toBeGreaterThan(1)
    expect(s.nextHints(add)).toEqual(add.hints.slice(0, 1))
    expect(s.nextHints(add)).toEqual(add.hints.slice(0, 2))
    for (let i = 0; i < total + 2; i++) s.nextHints(add)
    expect(s.nextHints(add)).toEqual(add.hints)
  })

  it('solution: diffs the step against the reference, applies what differs (a missing file too), then matches', async () => {
    const s = new LabSession(lab, join(dir, 'ws'), progress)
    expect(s.openWorkspace().map((c) => c.action)).toContain('created')
    const file = Object.keys(skeleton.solution)[0]
    const mine = join(s.workspace, file)
    expect((await s.solutionDiffs(skeleton)).find((d) => d.file === file)).toMatchObject({matches: false})
    // A learner's file that is gone is a difference, written without a backup (there is nothing to keep).
    rmSync(mine)
    const missing = s.solutionFiles(skeleton)
    const gone = missing.find((f) => f.name === file)!
    expect(gone.differs).toBe(true)
    const {backups, loaded} = await s.applySolution(missing)
    expect(backups).toEqual([])
    expect(loaded).toBeUndefined()
    expect(readFileSync(mine)).toEqual(readFileSync(gone.solutionPath))
    expect((await s.solutionDiffs(skeleton)).every((d) => d.matches)).toBe(true)
    // Opening the workspace again changes nothing the learner has.
    expect(s.openWorkspace()).toEqual([])
    expect(existsSync(mine)).toBe(true)
  })
})
