import {describe, it, expect, afterAll} from 'vitest'
import {cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {execa} from 'execa'
import {repoRoot, requireBuilt} from '../helpers/env.js'

// The built CLI runs the bundled oclif from V8's code cache (scripts/vendor-oclif.mjs,
// scripts/compile-cache.mjs; docs/architecture.md "Start-up"). The cache only saves time: without
// it, or with one V8 refuses, oclif is compiled and works the same. V8 trusts a cache it takes, so
// the only cache read is the one made for this very bundle (its name has a hash of the bundle).

const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-code-cache-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

/** A copy of dist/vendor, to break. */
const vendorCopy = (name: string): string => {
  requireBuilt()
  const dir = join(tmp, name)
  cpSync(join(repoRoot, 'dist/vendor'), dir, {recursive: true})
  return dir
}

/** Loads a dist/vendor's oclif in a fresh node: whether the cache was taken, and oclif's --version. */
const load = async (dir: string): Promise<{cacheUsed: boolean; version: string}> => {
  const shim = pathToFileURL(join(dir, 'oclif-core.js')).href
  const code = `const o = await import(${JSON.stringify(shim)})
const out = []
const write = process.stdout.write.bind(process.stdout)
process.stdout.write = (s) => (out.push(String(s)), true)
await o.run(['--version'], ${JSON.stringify(repoRoot)})
process.stdout.write = write
console.log(JSON.stringify({cacheUsed: o.codeCacheUsed, version: out.join('').trim()}))`
  const r = await execa('node', ['--input-type=module', '-e', code], {reject: false, timeout: 60_000})
  expect(r.exitCode, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as {cacheUsed: boolean; version: string}
}

const cacheOf = (dir: string): string => {
  const caches = readdirSync(dir).filter((f) => f.endsWith('.v8cache'))
  expect(caches).toHaveLength(1)
  return join(dir, caches[0])
}

describe("the bundled oclif and V8's code cache", () => {
  it('the build leaves one cache, named for the bundle it was made from, and this node takes it', async () => {
    const dir = vendorCopy('as-built')
    const hash = createHash('sha256')
      .update(readFileSync(join(dir, 'oclif-core.bundle.cjs')))
      .digest('hex')
      .slice(0, 16)
    expect(cacheOf(dir)).toBe(join(dir, `oclif-core.bundle.${hash}.v8cache`))
    const r = await load(dir)
    expect(r.cacheUsed).toBe(true)
    expect(r.version).toMatch(/^ebpfcni\/\d+\.\d+\.\d+ linux-x64 node-v/)
  })

  it('without a cache, or with a short one V8 refuses, oclif is compiled and answers the same', async () => {
    const asBuilt = await load(vendorCopy('reference'))
    const none = vendorCopy('no-cache')
    rmSync(cacheOf(none))
    const short = vendorCopy('short-cache')
    truncateSync(cacheOf(short), 4096)
    for (const dir of [none, short]) {
      const r = await load(dir)
      expect(r.cacheUsed, dir).toBe(false)
      expect(r.version).toBe(asBuilt.version)
    }
  })
})
