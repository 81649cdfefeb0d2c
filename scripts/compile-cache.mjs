// Writes dist/vendor/oclif-core.bundle.HASH.v8cache, V8's compiled code for the bundled oclif (see
// scripts/vendor-oclif.mjs), the last step of `npm run build`. V8 keeps the functions a run compiled,
// so the CLI runs first, in this process: root help, a command's help, and `status --json` (a
// command parsed, run, its JSON written) against a private state dir; nothing is printed or kept.
// Then a fresh `node` loads the bundle to prove V8 takes the cache (it refuses one from another Node).
import {spawnSync} from 'node:child_process'
import {mkdtempSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const loader = join(root, 'dist/vendor/oclif-core.js')

const state = mkdtempSync(join(tmpdir(), 'ebpfcni-compile-cache-'))
Object.assign(process.env, {EBPFCNI_STATE_DIR: state, EBPFCNI_WORKSPACE: join(state, 'workspace'), CI: 'true'})
const {run, codeCache, codeCacheFile} = await import(pathToFileURL(loader).href)
const write = process.stdout.write
process.stdout.write = () => true
try {
  for (const argv of [['--help'], ['status', '--help'], ['status', '--json']]) await run(argv, root)
} finally {
  process.stdout.write = write
  rmSync(state, {recursive: true, force: true})
}
if (process.exitCode) throw new Error(`the CLI's warm-up run failed (exit ${process.exitCode})`)
const cache = codeCache()
// Whole or not at all: V8 refuses a short cache, but a reader should never see one.
writeFileSync(`${codeCacheFile}.${process.pid}`, cache)
renameSync(`${codeCacheFile}.${process.pid}`, codeCacheFile)

const check = spawnSync(
  process.execPath,
  [
    '--input-type=module',
    '-e',
    `import {codeCacheUsed} from ${JSON.stringify(pathToFileURL(loader).href)}; console.log(codeCacheUsed)`,
  ],
  {encoding: 'utf8', timeout: 60_000},
)
if (check.stdout.trim() !== 'true') {
  throw new Error(`a fresh node did not use ${codeCacheFile}: ${check.stdout}${check.stderr}`)
}
console.log(
  `dist/vendor/${basename(codeCacheFile)}: ${Math.round(cache.length / 1024)} KiB, taken by ${process.version}`,
)
