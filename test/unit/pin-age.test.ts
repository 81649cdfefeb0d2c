import {describe, it, expect, afterEach} from 'vitest'
import {mkdtempSync, rmSync, utimesSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {loadedBeforeLastEdit} from '../../src/bpf/pin-age.js'
import {clockTime, staleLoadWarning} from '../../src/ui/stale-load.js'

// Walked (lab 4): a fix saved but never reloaded, then probed by hand; nothing said the programs that ran
// were older than the source. A pin's mtime is when it was pinned, so the two times answer it.

describe('loadedBeforeLastEdit', () => {
  const dirs: string[] = []
  const setUp = (sourceAt: number, pins: Record<string, number>) => {
    const d = mkdtempSync(join(tmpdir(), 'ebpfcni-pin-age-'))
    dirs.push(d)
    const source = join(d, 'ebpfcni.bpf.c')
    writeFileSync(source, '')
    utimesSync(source, sourceAt, sourceAt)
    for (const [name, at] of Object.entries(pins)) {
      writeFileSync(join(d, name), '')
      utimesSync(join(d, name), at, at)
    }
    return {source, pinDir: d}
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
  })

  it('names the source saved after the programs were pinned, with the oldest pin time', () => {
    const {source, pinDir} = setUp(2000, {xdp_prog: 1500, to_pod: 1000, policy: 500})
    const stale = loadedBeforeLastEdit(source, pinDir)
    expect(stale?.source).toBe(source)
    expect(stale?.pinnedAt.getTime()).toBe(1000 * 1000)
  })

  it('says nothing when every program was pinned after the last edit, or none is pinned', () => {
    expect(loadedBeforeLastEdit(setUp(1000, {xdp_prog: 1500, to_pod: 1600}).source, dirs[0])).toBeUndefined()
    // A map pinned long ago is not a program: no warning from it.
    const noPrograms = setUp(2000, {policy: 500})
    expect(loadedBeforeLastEdit(noPrograms.source, noPrograms.pinDir)).toBeUndefined()
  })
})

describe('staleLoadWarning', () => {
  it('prints the load time as 24-hour HH:MM:SS in the local zone, as date does', () => {
    const d = mkdtempSync(join(tmpdir(), 'ebpfcni-stale-'))
    try {
      writeFileSync(join(d, 'ebpfcni.bpf.c'), '')
      writeFileSync(join(d, 'xdp_prog'), '')
      const pinned = new Date(2026, 11, 7, 21, 5, 9) // local time
      utimesSync(join(d, 'xdp_prog'), pinned, pinned)
      const line = staleLoadWarning(d, d)!
      expect(line).toContain(`were loaded (21:05:09): what runs is the older code`)
      expect(line).not.toMatch(/[AP]M\)/)
      expect(clockTime(new Date(2026, 0, 1, 9, 0, 3))).toBe('09:00:03')
    } finally {
      rmSync(d, {recursive: true, force: true})
    }
  })
})
