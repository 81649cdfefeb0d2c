// Builds dist/vendor/oclif-core.js: @oclif/core and its dependencies in one file. Every command starts
// the CLI anew, and Node resolving and reading @oclif/core's ~150 files was half of a `--help`'s time
// (issue "fast feedback": start-up within 2x a bare node). Our code imports it as `#oclif` (package.json
// "imports"), so the CLI loads this one copy; tests run from source and map `#oclif` to @oclif/core.
// typescript stays out: oclif imports it only to run TypeScript sources, which the built CLI never does.
import {build} from 'esbuild'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
// @oclif/core is CommonJS: `export *` from it gives esbuild no names to re-export, so they are listed.
const names = Object.keys(createRequire(join(root, 'package.json'))('@oclif/core')).filter((n) => n !== 'default')
await build({
  stdin: {contents: `export {${names.join(', ')}} from '@oclif/core'`, resolveDir: root, loader: 'js'},
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['typescript'],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'eof',
  // oclif's CommonJS modules call require(); an ES module has none of its own.
  banner: {
    js: "import {createRequire as __ebpfcniRequire} from 'node:module'; const require = __ebpfcniRequire(import.meta.url);",
  },
  outfile: join(root, 'dist/vendor/oclif-core.js'),
  logLevel: 'warning',
})
