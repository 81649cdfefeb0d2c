import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {getLab, loadLabs, readStepText, type LabStep} from '../../src/labs/catalogue.js'
import {ensureWorkspace, solutionFiles} from '../../src/labs/workspace.js'
import {LabSession} from '../../src/labs/session.js'
import {ProgressStore} from '../../src/host/progress.js'
import {asksNewCode, menuLoop, type MenuAction, type MenuView} from '../../src/labs/menu-loop.js'

// The menu's controller without a terminal: a scripted view records what it was asked to show.
describe('the interactive lab menu (controller)', () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ebpfcni-menu-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  function scripted(actions: MenuAction[]) {
    const seen: string[] = []
    const offered: Array<{step: string; next?: string}> = []
    const view: MenuView = {
      choose: async (step, state) => {
        offered.push({step: step.id, next: state.next?.id})
        return actions.shift() ?? 'quit'
      },
      showStep: (step) => seen.push(`step ${step.id}`),
      showHint: (n, total, text) => seen.push(`hint ${n}/${total} ${text ? 'text' : 'none'}`),
      openEditor: async (path) => {
        throw new Error(`no editor for ${path}`)
      },
      showDiff: (diffs) =>
        void seen.push(`diff ${diffs.map((d) => `${d.file}:${d.matches ? 'same' : 'differs'}`).join(',')}`),
      confirmApply: async (files) => (seen.push(`confirm ${files.join(',')}`), false),
      showApplied: (o) => seen.push(o === 'already' ? 'already' : 'applied'),
      showCheckRun: async () => void seen.push('checks'),
      watch: async () => void seen.push('watch'),
      showError: (err) => seen.push(`error ${(err as Error).message}`),
    }
    return {view, seen, offered}
  }

  it('counts hints one at a time, shows what was asked, reports an action that fails and carries on', async () => {
    const lab = getLab(1)
    ensureWorkspace(lab, dir)
    const session = new LabSession(lab, dir, new ProgressStore(join(dir, 'progress.json')))
    const first = lab.steps[0] as LabStep
    const {view, seen} = scripted(['hint', 'hint', 'text', 'edit', 'diff', 'quit'])
    await menuLoop(session, first, view)
    expect(seen).toEqual([
      'hint 1/' + first.hints.length + ' text',
      'hint 2/' + first.hints.length + ' text',
      `step ${first.id}`,
      `error no editor for ${join(dir, Object.keys(first.solution)[0])}`,
      // What `solution 1 --step <first>` compares: the step's files against the reference.
      `diff ${solutionFiles(lab, first, dir)
        .map((f) => `${f.name}:${f.differs ? 'differs' : 'same'}`)
        .join(',')}`,
    ])
  })

  it('moves to the next step only when it is offered (the step passed); apply asks first and a no keeps the file', async () => {
    const lab = getLab(1)
    ensureWorkspace(lab, dir)
    const progress = new ProgressStore(join(dir, 'progress.json'))
    const session = new LabSession(lab, dir, progress)
    const [first, second] = lab.steps
    // "next" while the step has not passed: nothing moves.
    const notYet = scripted(['next', 'apply', 'quit'])
    await menuLoop(session, first, notYet.view)
    expect(notYet.offered[0]).toEqual({step: first.id, next: second.id})
    expect(notYet.seen.filter((s) => s.startsWith('step'))).toEqual([])
    expect(notYet.seen.at(-1)).toMatch(/^confirm /)
    // Once passed, next moves the session (remembered in the progress file).
    progress.recordCheck(lab.id, first.id, 1, 1)
    const passed = scripted(['next', 'quit'])
    await menuLoop(session, first, passed.view)
    expect(passed.seen).toEqual([`step ${second.id}`])
    expect(passed.offered.map((o) => o.step)).toEqual([first.id, second.id])
    expect(new LabSession(lab, dir, new ProgressStore(join(dir, 'progress.json'))).currentStep().id).toBe(second.id)
  })
})

describe('which steps ask for new code', () => {
  // Walked: lab 3 metrics' text says "No new code", yet its commands listed $EDITOR …/ebpfcni.bpf.c.
  it('a step asks for none exactly when its solution repeats an earlier step\'s and its text says "No new code"', () => {
    const none = loadLabs().flatMap((lab) =>
      lab.steps.filter((s) => !asksNewCode(lab, s)).map((s) => `${lab.id}/${s.id}`),
    )
    expect(none).toEqual(['3/metrics'])
    for (const lab of loadLabs())
      for (const s of lab.steps)
        expect(/No new code/i.test(readStepText(lab, s)), `${lab.id}/${s.id}`).toBe(!asksNewCode(lab, s))
  })
})
