#!/usr/bin/env node
// Start-up cost of the CLI (prints figures; not a test). Every check, hint and status starts the
// CLI anew, so each is timed as a whole process against `node -e 0`, paired run by run (A B A B …)
// so the ratio holds while the machine's speed drifts. Medians of the pairs' ratios are quoted.
// Goals (issue "fast feedback and a fast suite"): --help <= 2x, status --json <= 2.5x.
// Usage: node scripts/bench-startup.mjs [--runs 7] [--node PATH]
import {spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const RUNS = Number(opt('runs', 7))
const NODE = opt('node', process.execPath)
// A private state dir: the bench reads no learner's progress and writes only its own cache.
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-startup-'))
// hint reads a workspace: `lab 1` makes one there first (a missing workspace is an error, exit 2).
const env = {...process.env, EBPFCNI_STATE_DIR: state, EBPFCNI_WORKSPACE: join(state, 'workspace'), CI: 'true'}

const wall = (args) => {
  const t0 = process.hrtime.bigint()
  const r = spawnSync(NODE, args, {env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000})
  if (r.status !== 0) throw new Error(`${NODE} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return Number(process.hrtime.bigint() - t0) / 1e6
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const cases = [
  {name: 'status --json', args: [join(root, 'bin/run.js'), 'status', '--json'], goal: 2.5},
  {name: '--help', args: [join(root, 'bin/run.js'), '--help'], goal: 2},
  {name: 'hint 1 --json', args: [join(root, 'bin/run.js'), 'hint', '1', '--json']},
]
const version = spawnSync(NODE, ['--version'], {encoding: 'utf8'}).stdout.trim()
// Whether this node takes the build's V8 cache for the bundled oclif (scripts/compile-cache.mjs).
const loader = pathToFileURL(join(root, 'dist/vendor/oclif-core.js')).href
const cached = spawnSync(
  NODE,
  ['--input-type=module', '-e', `console.log((await import('${loader}')).codeCacheUsed)`],
  {
    encoding: 'utf8',
    timeout: 60_000,
  },
).stdout.trim()
spawnSync(NODE, [join(root, 'bin/run.js'), 'lab', '1'], {env, stdio: 'ignore', timeout: 60_000})
console.log(
  `ebpfcni start-up, ${RUNS} paired runs each against \`node -e 0\` (node ${version}; ` +
    `oclif ${cached === 'true' ? "from V8's code cache" : 'compiled: no code cache this node takes'})`,
)
try {
  for (const c of cases) {
    wall(c.args) // warm-up: the catalogue cache and Node's compile cache (Node >= 22.1) fill here
    wall(['-e', '0'])
    const ratios = []
    const a = []
    const b = []
    for (let i = 0; i < RUNS; i++) {
      const x = wall(c.args)
      const y = wall(['-e', '0'])
      a.push(x)
      b.push(y)
      ratios.push(x / y)
    }
    const r = median(ratios)
    const verdict = c.goal ? (r <= c.goal ? `within the goal of ${c.goal}x` : `over the goal of ${c.goal}x`) : ''
    console.log(
      `${c.name.padEnd(14)} ${median(a).toFixed(0).padStart(4)} ms vs ${median(b).toFixed(0).padStart(3)} ms: ` +
        `${r.toFixed(2)}x (min ${Math.min(...ratios).toFixed(2)}, max ${Math.max(...ratios).toFixed(2)}) ${verdict}`,
    )
  }
} finally {
  rmSync(state, {recursive: true, force: true})
}
