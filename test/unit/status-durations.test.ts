import {describe, it, expect, beforeEach, afterEach, vi} from 'vitest'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {ProgressStore} from '../../src/host/progress.js'
import {getLab} from '../../src/labs/catalogue.js'
import {LabSession} from '../../src/labs/session.js'

// Walked: `status` said "metrics … took 0 s" for a step that took minutes (a whole-lab check passed
// it in the same run as the step before), and "deny … done 17:49, took 8 min" for a step first
// passed at 17:42 (a later failing run cleared the time, the next pass wrote a new one).
describe('status: the first pass stays; a duration runs from the step first shown to that pass', () => {
  let dir: string
  let progress: ProgressStore
  const lab = getLab(1)
  const [skeleton, add, del] = lab.steps
  const at = (hhmm: string): void => void vi.setSystemTime(new Date(`2026-12-07T${hhmm}:00Z`))
  const step = (s: LabSession, id: string) => s.status().steps.find((x) => x.id === id)!
  beforeEach(() => {
    vi.useFakeTimers()
    dir = mkdtempSync(join(tmpdir(), 'ebpfcni-status-'))
    progress = new ProgressStore(join(dir, 'progress.json'))
  })
  afterEach(() => {
    vi.useRealTimers()
    rmSync(dir, {recursive: true, force: true})
  })

  it('a later failing run and a later pass keep the first pass time and the duration', () => {
    const s = new LabSession(lab, dir, progress)
    at('17:38')
    s.moveTo(add)
    at('17:42')
    progress.recordCheck(lab.id, add.id, 5, 5, undefined, {alone: true})
    at('17:45')
    progress.recordCheck(lab.id, add.id, 4, 5, 'cni.add.bridge')
    expect(step(s, add.id)).toMatchObject({done: false, firstPassedAt: '2026-12-07T17:42:00.000Z', tookMs: 4 * 60_000})
    at('17:49')
    progress.recordCheck(lab.id, add.id, 5, 5)
    expect(step(s, add.id)).toMatchObject({
      done: true,
      doneAt: '2026-12-07T17:49:00.000Z',
      firstPassedAt: '2026-12-07T17:42:00.000Z',
      tookMs: 4 * 60_000,
    })
  })

  it('steps a whole-lab check passed before they were shown get no duration, not "0 s"', () => {
    const s = new LabSession(lab, dir, progress)
    at('17:39')
    s.moveTo(skeleton)
    at('17:50')
    // One `check 1` passes skeleton, add and del at once; only skeleton was ever shown.
    for (const id of [skeleton.id, add.id, del.id]) progress.recordCheck(lab.id, id, 3, 3)
    expect(step(s, skeleton.id).tookMs).toBe(11 * 60_000)
    expect(step(s, add.id)).toMatchObject({done: true, firstPassedAt: '2026-12-07T17:50:00.000Z', tookMs: null})
    expect(step(s, del.id).tookMs).toBeNull()
  })

  it('a step first seen through a hint or a check of it alone times from then; a pass on the first look has no duration', () => {
    const s = new LabSession(lab, dir, progress)
    at('17:40')
    s.nextHints(add)
    at('17:41')
    progress.recordCheck(lab.id, del.id, 1, 3, 'cni.del.idempotent', {alone: true})
    at('17:47')
    progress.recordCheck(lab.id, add.id, 3, 3, undefined, {alone: true})
    progress.recordCheck(lab.id, del.id, 3, 3, undefined, {alone: true})
    at('17:48')
    progress.recordCheck(lab.id, skeleton.id, 3, 3, undefined, {alone: true})
    expect(step(s, add.id).tookMs).toBe(7 * 60_000)
    expect(step(s, del.id).tookMs).toBe(6 * 60_000)
    expect(step(s, skeleton.id)).toMatchObject({done: true, tookMs: null})
  })
})
