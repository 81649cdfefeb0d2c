import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ProgressStore, progressFiles} from '../../src/host/progress.js'
import {tempStateDir} from '../helpers/env.js'

describe('ProgressStore', () => {
  let t: ReturnType<typeof tempStateDir>
  let path: string
  beforeEach(() => {
    t = tempStateDir()
    path = join(t.dir, 'progress.json')
  })
  afterEach(() => t.cleanup())

  it('marks a step done only when every check passed; keeps doneAt while it passes; a later failure makes it pending', () => {
    const p = new ProgressStore(path)
    expect(p.recordCheck(1, 'add', 3, 5).done).toBe(false)
    const first = p.recordCheck(1, 'add', 5, 5)
    expect(first.done).toBe(true)
    expect(new ProgressStore(path).recordCheck(1, 'add', 5, 5).doneAt).toBe(first.doneAt)
    const again = new ProgressStore(path).recordCheck(1, 'add', 4, 5)
    expect(again.done).toBe(false)
    expect(again.doneAt).toBeUndefined()
    expect(again.attempts).toBe(4)
    expect(again.checksPassed).toBe(4)
  })

  it('an empty check set never counts as done', () => {
    expect(new ProgressStore(path).recordCheck(2, 'x', 0, 0).done).toBe(false)
  })

  it('counts hints up to the number available', () => {
    const p = new ProgressStore(path)
    expect([p.nextHint(1, 's', 2), p.nextHint(1, 's', 2), p.nextHint(1, 's', 2)]).toEqual([1, 2, 2])
  })

  it('resets one lab or all', () => {
    const p = new ProgressStore(path)
    p.recordCheck(1, 'a', 1, 1)
    p.recordCheck(2, 'b', 1, 1)
    p.resetLab(1)
    expect(Object.keys(p.all())).toEqual(['2'])
    p.resetLab()
    expect(p.all()).toEqual({})
  })

  it('moves a corrupt progress file aside and starts afresh', () => {
    writeFileSync(path, 'not json at all')
    const warnings: string[] = []
    const p = new ProgressStore(path, (m) => warnings.push(m))
    expect(p.all()).toEqual({})
    expect(warnings[0]).toMatch(/progress file .* unreadable/)
  })
})

describe('progress belongs to a workspace', () => {
  it('the default workspace takes over the host-wide file earlier versions kept; another workspace starts empty', () => {
    const t = tempStateDir()
    const saved = {state: process.env.EBPFCNI_STATE_DIR, ws: process.env.EBPFCNI_WORKSPACE}
    process.env.EBPFCNI_STATE_DIR = t.dir
    delete process.env.EBPFCNI_WORKSPACE
    try {
      new ProgressStore(join(t.dir, 'progress.json')).recordCheck(1, 'skeleton', 4, 4)
      const mine = ProgressStore.forWorkspace()
      expect(mine.lab(1)?.steps.skeleton.done).toBe(true)
      expect(existsSync(join(t.dir, 'progress.json'))).toBe(false)
      expect(ProgressStore.forWorkspace(join(t.dir, 'another')).lab(1)).toBeUndefined()
      expect(progressFiles()).toEqual([mine.path])
    } finally {
      if (saved.state === undefined) delete process.env.EBPFCNI_STATE_DIR
      else process.env.EBPFCNI_STATE_DIR = saved.state
      if (saved.ws !== undefined) process.env.EBPFCNI_WORKSPACE = saved.ws
      t.cleanup()
    }
  })
})
