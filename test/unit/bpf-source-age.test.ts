import {describe, it, expect, afterAll} from 'vitest'
import {utimesSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {sourceNewerThanObject} from '../../src/bpf/build.js'
import {tempStateDir} from '../helpers/env.js'

// `bpf load` warns, and lab 2's stale-pin messages say "nor built", when the .c was saved after its .o.
describe('sourceNewerThanObject', () => {
  const t = tempStateDir('ebpfcni-source-age-')
  afterAll(() => t.cleanup())
  const [c, o] = [join(t.dir, 'p.bpf.c'), join(t.dir, 'p.bpf.o')]

  it('names the source saved after the object, and nothing when the object is newer or missing', () => {
    writeFileSync(c, 'int x;')
    expect(sourceNewerThanObject(o)).toBeUndefined()
    writeFileSync(o, '')
    utimesSync(c, 1000, 1000)
    utimesSync(o, 2000, 2000)
    expect(sourceNewerThanObject(o)).toBeUndefined()
    utimesSync(c, 3000, 3000)
    expect(sourceNewerThanObject(o)).toBe(c)
    expect(sourceNewerThanObject(join(t.dir, 'other.o'))).toBeUndefined()
  })
})
