import {describe, it, expect, afterEach} from 'vitest'
import {mkdtempSync, rmSync, writeFileSync, utimesSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {watchFiles} from '../../src/host/file-watch.js'
import {filesystemOf} from '../../src/host/mounts.js'

// The one watcher behind lab --watch and the policy controller: content changes fire, a touch
// does not, and polling (synced folders) sees the same changes as file events.
const until = async (cond: () => boolean, ms = 3000): Promise<boolean> => {
  const end = Date.now() + ms
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 20))
  return cond()
}

describe('watchFiles', () => {
  let dir: string
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  for (const poll of [false, true]) {
    it(`${poll ? 'polling' : 'file events'}: a content change fires with the file's name; a touch does not`, async () => {
      dir = mkdtempSync(join(tmpdir(), 'ebpfcni-watch-'))
      writeFileSync(join(dir, 'a.txt'), 'one')
      const seen: string[][] = []
      const w = watchFiles(dir, ['a.txt'], (c) => seen.push(c), {debounceMs: 20, poll, pollMs: 50})
      try {
        expect(Boolean(w.polling)).toBe(poll)
        utimesSync(join(dir, 'a.txt'), new Date(), new Date())
        await new Promise((r) => setTimeout(r, 300))
        expect(seen).toEqual([])
        writeFileSync(join(dir, 'a.txt'), 'two')
        expect(await until(() => seen.length > 0)).toBe(true)
        expect(seen[0]).toEqual(['a.txt'])
      } finally {
        w.stop()
      }
    })
  }

  it('knows the filesystem a path is on (synced folders are told apart by it)', () => {
    expect(filesystemOf('/proc/self')).toBe('proc')
  })
})
