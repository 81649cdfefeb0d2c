#!/usr/bin/env node
// The import graph's rules, checked on every test run (scripts/test.sh runs this first):
//  - no import cycle between files of src/;
//  - no upward import: a layer imports only layers below it (or files of its own layer), so
//    host/ imports neither net/ nor bpf/;
//  - each lab's module (labs/NN-slug/*.ts, checks/) is the "lab" layer: it imports the engine and the
//    layers below, and of another lab only what that lab exports (its context.ts, checks/index.ts);
//    nothing in src/ imports a lab (the engine knows no lab).
// `#name/…` imports (package.json "imports") count as src/name/… (#engine/… is src/labs/…).
// Imports are read from the source text (`from '...'` and `import('...')` with a literal path).
// Usage: node scripts/check-structure.mjs [--src DIR] [--quiet]   (exit 1 with one line per violation)
import {existsSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const flag = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined)
const src = resolve(flag('--src') ?? join(dirname(dirname(fileURLToPath(import.meta.url))), 'src'))
const root = dirname(src)
const labsDir = join(root, 'labs')

// Highest first. A file may import from its own layer and from any layer with a smaller number.
const LAYERS = {
  hooks: 9,
  commands: 8,
  ui: 7,
  lab: 6.5,
  labs: 6,
  metrics: 5,
  policy: 5,
  conform: 5,
  doctor: 5,
  reset: 5,
  topology: 5,
  nodes: 4,
  observe: 5,
  fleet: 5,
  pods: 4,
  bpf: 4,
  checks: 3,
  cni: 2,
  net: 2,
  host: 1,
}

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

const inLab = (file) => file.startsWith(labsDir + '/')
const isDir = (p) => existsSync(p) && statSync(p).isDirectory()
const labOf = (file) => relative(labsDir, file).split('/')[0]
const layerOf = (file) => (inLab(file) ? 'lab' : relative(src, file).split('/')[0])
// A lab's module: its folder's .ts files and checks/ (its tests and its starter are not the module).
const labFiles = () =>
  !isDir(labsDir)
    ? []
    : readdirSync(labsDir)
        .filter((d) => /^\d\d-/.test(d))
        .flatMap((d) => [
          ...readdirSync(join(labsDir, d))
            .filter((n) => n.endsWith('.ts'))
            .map((n) => join(labsDir, d, n)),
          ...(isDir(join(labsDir, d, 'checks')) ? files(join(labsDir, d, 'checks')) : []),
        ])
const all = [...files(src), ...labFiles()]
const known = new Set(all)
const edges = new Map()
const oclifDirect = []
const resolveSpec = (from, spec) => {
  const hash = /^#([a-z]+)\/(.*)$/.exec(spec)
  if (hash) return join(src, hash[1] === 'engine' ? 'labs' : hash[1], hash[2])
  return spec.startsWith('.') ? resolve(dirname(from), spec) : undefined
}
for (const f of all) {
  const text = readFileSync(f, 'utf8')
  const targets = []
  for (const m of text.matchAll(/(?:from\s+|import\()\s*'((?:\.{1,2}\/|#)[^']+)'/g)) {
    const t = resolveSpec(f, m[1])?.replace(/\.js$/, '.ts')
    if (t && known.has(t)) targets.push(t)
  }
  edges.set(f, [...new Set(targets)])
  // The built CLI loads @oclif/core once, bundled (scripts/vendor-oclif.mjs): a second copy costs start-up.
  if (/from\s+'@oclif\/core'/.test(text)) oclifDirect.push(relative(root, f))
}
// What one lab may import of another: what it exports for the labs that build on it.
const labExports = (file) => /^[^/]+\/(context\.ts|checks\/index\.ts)$/.test(relative(labsDir, file))

const problems = []
for (const f of oclifDirect) problems.push(`${f} imports '@oclif/core': import '#oclif' (one bundled copy)`)
for (const [f, targets] of edges) {
  for (const t of targets) {
    const [lf, lt] = [layerOf(f), layerOf(t)]
    if (!inLab(f) && inLab(t))
      problems.push(`the engine names a lab: ${relative(root, f)} imports ${relative(root, t)} (labs are discovered)`)
    else if (!(lf in LAYERS) || !(lt in LAYERS))
      problems.push(
        `${relative(root, f)}: imports ${relative(root, t)}, and one of them is in no known layer (${lf}, ${lt})`,
      )
    else if (LAYERS[lt] > LAYERS[lf])
      problems.push(`upward import: ${relative(root, f)} (${lf}) imports ${relative(root, t)} (${lt})`)
    else if (lf === 'lab' && inLab(t) && labOf(f) !== labOf(t) && !labExports(t))
      problems.push(
        `another lab's internals: ${relative(root, f)} imports ${relative(root, t)} (import its context.ts or checks/index.ts)`,
      )
  }
}

// Cycles: strongly connected components of more than one file (Tarjan), or a file importing itself.
let index = 0
const idx = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
function strong(v) {
  idx.set(v, index)
  low.set(v, index++)
  stack.push(v)
  onStack.add(v)
  for (const w of edges.get(v)) {
    if (!idx.has(w)) {
      strong(w)
      low.set(v, Math.min(low.get(v), low.get(w)))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)))
  }
  if (low.get(v) === idx.get(v)) {
    const component = []
    let w
    do {
      w = stack.pop()
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > 1 || edges.get(v).includes(v))
      problems.push(
        `import cycle: ${component
          .map((c) => relative(root, c))
          .sort()
          .join(' ↔ ')}`,
      )
  }
}
for (const v of all) if (!idx.has(v)) strong(v)

if (problems.length) {
  for (const p of problems) console.error(p)
  console.error(`check-structure: ${problems.length} problem(s) in ${all.length} files`)
  process.exit(1)
}
if (!process.argv.includes('--quiet'))
  console.log(
    `check-structure: ${all.length} files, ${[...edges.values()].reduce((n, t) => n + t.length, 0)} imports: no cycle, no upward import`,
  )
