import {describe, it, expect, afterAll} from 'vitest'
import {mkdtempSync, mkdirSync, writeFileSync, readdirSync, rmSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {cachedImageArchive} from '../../src/pods/cri/images.js'

// The CRI image archive is built once into the state dir's cache. Two pods of one check start at
// once (lab 4's client and server): both asked for it before it existed, and the second's rename
// found the first's temporary file gone (ENOENT), so every traffic check was skipped.
describe('the cached CRI image archive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-cri-cache-'))
  const saved = {state: process.env.EBPFCNI_STATE_DIR, rootfs: process.env.EBPFCNI_ROOTFS}
  afterAll(() => {
    for (const [k, v] of [
      ['EBPFCNI_STATE_DIR', saved.state],
      ['EBPFCNI_ROOTFS', saved.rootfs],
    ] as const)
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    rmSync(dir, {recursive: true, force: true})
  })

  it('asked for twice at once, before it exists: one build, both get it, no partial file left', async () => {
    const rootfs = join(dir, 'rootfs')
    mkdirSync(join(rootfs, 'bin'), {recursive: true})
    writeFileSync(join(rootfs, 'bin/busybox'), 'not really busybox')
    process.env.EBPFCNI_ROOTFS = rootfs
    process.env.EBPFCNI_STATE_DIR = join(dir, 'state')
    const [a, b] = await Promise.all([cachedImageArchive(), cachedImageArchive()])
    expect(a).toBe(b)
    expect(existsSync(a)).toBe(true)
    expect(readdirSync(join(dir, 'state/cache'))).toEqual([a.split('/').at(-1)])
    // Asked again: the same file, not rebuilt.
    expect(await cachedImageArchive()).toBe(a)
  })
})
