import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ProgressStore} from '../../src/host/progress.js'
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
