// Builds dist/vendor/: @oclif/core and its dependencies in one file, and the module that loads it.
// Every command starts the CLI anew, and Node resolving and reading @oclif/core's ~150 files was half
// of a `--help`'s time (issue "fast feedback": start-up within 2x a bare node). Our code imports it as
// `#oclif` (package.json "imports"), so the CLI loads this one copy; tests run from source and map
// `#oclif` to @oclif/core. typescript stays out: oclif imports it only to run TypeScript sources,
// which the built CLI never does.
//
// Compiling that file was the next largest part, and Node 20 keeps no compiled code for a module
// between runs (module.enableCompileCache is Node >= 22.1). V8 does for a script given its code
// cache, so the bundle is CommonJS, run by dist/vendor/oclif-core.js as a vm.Script with
// oclif-core.bundle.HASH.v8cache, which scripts/compile-cache.mjs writes at the end of the build. A
// cache V8 rejects (another Node, other flags) or a missing one only means compiling, as without it.
import {build} from 'esbuild'
import {createRequire} from 'node:module'
import {createHash} from 'node:crypto'
import {readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const out = join(root, 'dist/vendor')
// A cache made for another bundle must never meet this one: V8 checks a cache against the source's
// length only, and trusts its content (a damaged one can crash node). So a cache is named by a hash
// of the bundle it was made for, and the old ones go before the bundle changes.
for (const f of await readdir(out).catch(() => [])) {
  if (/^oclif-core\.bundle\..*v8cache/.test(f)) await rm(join(out, f), {force: true})
}

// Four changes to oclif's code as it is bundled, each checked to still apply when oclif changes.
const patches = [
  // oclif loads commands and hooks with import(url). In a vm.Script that needs a callback Node 20 has
  // only as an experimental flag, and it is lost when the script comes from a cache, so the bundle
  // calls __ebpfcniImport, the loader's own import(), instead (lilconfig's is for a plugin's
  // .mjs config). import('name') of a package (wsl-utils) stays: esbuild bundles it like a require.
  {
    files: /[\\/](@oclif[\\/]core[\\/]lib[\\/](module-loader|config[\\/]ts-path)|lilconfig[\\/]src[\\/]index)\.js$/,
    apply: (text) => text.replaceAll(/\bawait import\((?!\s*['"])/g, 'await __ebpfcniImport('),
  },
  // oclif's index checks Node against its own package.json's engines, which it looks for next to the
  // bundle, where there is none: the check always gave up, after loading semver. npm checks engines.
  {
    files: /[\\/]@oclif[\\/]core[\\/]lib[\\/]index\.js$/,
    apply: (text) => text.replace('\ncheckNodeVersion();\n', '\n'),
  },
  // Help renders every summary, description and example as an EJS template (for <%= config.bin %>),
  // compiling each to a function: root help made 42. A text with no tag renders as itself.
  {
    files: /[\\/]@oclif[\\/]core[\\/]lib[\\/]help[\\/]util\.js$/,
    apply: (text) =>
      text.replace(
        'return ejs_1.default.render(t, context);',
        "return t.includes('<%') ? ejs_1.default.render(t, context) : t;",
      ),
  },
  // A plugin's commands are sorted with localeCompare, whose first call sets up ICU's collator: 7 ms of
  // every start on this VM. Help sorts what it lists by code unit itself, and our ids (lowercase words,
  // '-' and ':') come out in the same order either way.
  {
    files: /[\\/]@oclif[\\/]core[\\/]lib[\\/]config[\\/]plugin\.js$/,
    apply: (text) =>
      text.replace(
        '.sort((a, b) => a.id.localeCompare(b.id));',
        '.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));',
      ),
  },
]
const patched = new Set()
const patchOclif = {
  name: 'patch-oclif',
  setup(b) {
    b.onLoad({filter: /[\\/]node_modules[\\/].*\.js$/}, async (args) => {
      const mine = patches.filter((p) => p.files.test(args.path))
      if (mine.length === 0) return undefined
      const text = await readFile(args.path, 'utf8')
      let contents = text
      for (const p of mine) {
        const next = p.apply(contents)
        if (next === contents)
          throw new Error(`${relative(root, args.path)}: a patch no longer applies (oclif changed)`)
        patched.add(p)
        contents = next
      }
      return {contents, loader: 'js'}
    })
  },
}

const result = await build({
  stdin: {contents: `module.exports = require('@oclif/core')`, resolveDir: root, loader: 'js'},
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['typescript'],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  plugins: [patchOclif],
  outfile: join(out, 'oclif-core.bundle.cjs'),
  logLevel: 'warning',
  metafile: true,
})
if (patched.size !== patches.length) throw new Error('a patch to oclif found none of its files (oclif changed)')
const bundled = await readFile(join(out, 'oclif-core.bundle.cjs'), 'utf8')
const left = bundled.replaceAll(/(["'`])import\(\)/g, '').match(/\bimport\(/g)
if (left) throw new Error(`oclif-core.bundle.cjs still calls import() ${left.length} time(s): patch its file too`)
const inputs = Object.keys(result.metafile.inputs).length
const cacheName = `oclif-core.bundle.${createHash('sha256').update(bundled).digest('hex').slice(0, 16)}.v8cache`

// @oclif/core is CommonJS; the ES module our code imports lists its names.
const names = Object.keys(createRequire(join(root, 'package.json'))('@oclif/core')).filter((n) => n !== 'default')
await writeFile(
  join(out, 'oclif-core.js'),
  `// Generated by scripts/vendor-oclif.mjs: runs oclif-core.bundle.cjs from V8's code cache when it has one.
// Node's modules come through require: imported as ES modules, each costs a facade of all its exports.
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)
const {readFileSync} = require('node:fs')
const {join} = require('node:path')
const {Script} = require('node:vm')
const file = join(import.meta.dirname, 'oclif-core.bundle.cjs')
/** V8's code for this very bundle: the name has a hash of its text, so no other bundle's cache is read. */
export const codeCacheFile = join(import.meta.dirname, '${cacheName}')
let cachedData
try {
  cachedData = readFileSync(codeCacheFile)
} catch {
  // No cache (a build that stopped before its end): compile.
}
const script = new Script(
  '(function (exports, require, module, __filename, __dirname, __ebpfcniImport) {' + readFileSync(file, 'utf8') + '\\n})',
  {filename: file, cachedData},
)
const bundle = {exports: {}}
script
  .runInThisContext()
  .call(bundle.exports, bundle.exports, createRequire(file), bundle, file, import.meta.dirname, (url) => import(url))

/** What scripts/compile-cache.mjs writes, after running the CLI, so that the code it ran is in it. */
export const codeCache = () => script.createCachedData()
/** Whether V8 took the cache (bench-startup and the build say so). */
export const codeCacheUsed = cachedData !== undefined && !script.cachedDataRejected
export const {${names.join(', ')}} = bundle.exports
`,
)
console.log(`dist/vendor/oclif-core.bundle.cjs: ${inputs} files, ${patches.length} patches`)
