import {describe, it, expect, afterEach} from 'vitest'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {moveFile} from '../../src/host/atomic-file.js'

// Walked: `reset` restores a replaced plugin from /var/lib/ebpfcni/backups to /opt/cni/bin. Where those
// are separate mounts, rename(2) fails with EXDEV and reset stopped there, the learner's plugin in place.

describe('moveFile', () => {
  const dirs: string[] = []
  const dir = (root: string): string => {
    const d = mkdtempSync(join(root, 'ebpfcni-move-'))
    dirs.push(d)
    return d
  }
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, {recursive: true, force: true})
  })

  it('moves within one filesystem', () => {
    const a = dir(tmpdir())
    writeFileSync(join(a, 'src'), 'one')
    moveFile(join(a, 'src'), join(a, 'dest'))
    expect(readFileSync(join(a, 'dest'), 'utf8')).toBe('one')
    expect(existsSync(join(a, 'src'))).toBe(false)
  })

  it('moves across filesystems (EXDEV), over the file it replaces, keeping the mode and leaving no temp file', () => {
    // /dev/shm is a tmpfs wherever Linux runs; the other side must be on another filesystem for the test to mean it.
    const a = dir('/dev/shm')
    const b = dir(tmpdir())
    expect(statSync(a).dev, 'the two directories are on one filesystem: no EXDEV to test').not.toBe(statSync(b).dev)
    writeFileSync(join(a, 'ebpfcni'), '#!/bin/sh\necho original\n', {mode: 0o755})
    writeFileSync(join(b, 'ebpfcni'), "the learner's", {mode: 0o644})
    moveFile(join(a, 'ebpfcni'), join(b, 'ebpfcni'))
    expect(readFileSync(join(b, 'ebpfcni'), 'utf8')).toContain('original')
    expect(statSync(join(b, 'ebpfcni')).mode & 0o777).toBe(0o755)
    expect(existsSync(join(a, 'ebpfcni'))).toBe(false)
    expect(readdirSync(b)).toEqual(['ebpfcni'])
  })
})
