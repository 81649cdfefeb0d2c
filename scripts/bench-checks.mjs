#!/usr/bin/env node
// Benchmark of the learner's feedback loop (prints figures; not a test): each step's check time
// for the reference solutions (`ebpfcni lab all --auto --json`), on a quiet machine and with every
// core busy (one spinning process per core), and the ratio loaded/quiet per step. Under load it
// also counts how many whole runs passed: a check's verdict must not depend on the machine's speed.
// Failing mode: each core step's check against the labs' own mutants (labs/NN-*/test/mutants.ts:
// the reference with one learner's mistake), timed as `lab all --auto` times a step (program
// loaded, then the step's checks), quiet and loaded; a step's failing time is its slowest mutant's,
// and a mutant that passes, or fails another check first than the one its test names, is marked.
// It runs dist/ (`npm run build` first) and takes the host lock itself (scripts/host-lock.mjs).
// Usage (root): node scripts/bench-checks.mjs [--runs 3] [--loaded-runs 5]
//     [--mode pass|fail|both] [--step LAB/STEP,...] [--mutants first|all] [--lab N] [--baseline DIR]
// --lab: the passing mode's `lab N --auto` instead of `lab all --auto`; --baseline: another built
// checkout (the code before a change), its run and this one's in turn, and the ratio per step
// (passing mode), or per step's slowest mutant (failing mode: the baseline's dist/ and mutants).
// --step: failing mode for those steps only; --mutants: each step's first mutant (default), or all.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {spawn} from 'node:child_process'
import {execa} from 'execa'
import {holdHostLock} from './host-lock.mjs'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const RUNS = arg('runs', 3)
const LOADED_RUNS = arg('loaded-runs', 5)
const word = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : dflt
}
const MODE = word('mode', 'both')
const ONLY_STEPS = word('step', undefined)?.split(',')
const ALL_MUTANTS = word('mutants', 'first') === 'all'
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  // The usage above, without the lock or a single run.
  const usage = readFileSync(fileURLToPath(import.meta.url), 'utf8')
    .split('\n')
    .slice(1)
  console.log(
    usage
      .slice(
        0,
        usage.findIndex((l) => !l.startsWith('//')),
      )
      .map((l) => l.replace(/^\/\/ ?/, ''))
      .join('\n'),
  )
  process.exit(0)
}
if (process.getuid() !== 0) {
  console.error('bench-checks needs root (it runs the labs for real)')
  process.exit(2)
}
holdHostLock()

const state = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-checks-'))
const env = {EBPFCNI_STATE_DIR: state, CI: 'true'}
const cli = join(root, 'bin/run.js')
const LAB = word('lab', 'all')
// Another checkout (built) to time against in the same run, one run of each in turn: ratios, not
// figures that moved with whatever else the machine was doing.
const BASELINE = word('baseline', undefined)

/** One `lab all --auto` run: {passed, totalMs, steps: Map("lab/step" -> ms), failing}. */
async function autoRun(bin = cli) {
  const r = await execa('node', [bin, 'lab', LAB, '--auto', '--json'], {
    reject: false,
    env,
    timeout: 600_000,
    stdin: 'ignore',
  })
  let report
  try {
    report = JSON.parse(r.stdout)
  } catch {
    return {
      passed: false,
      totalMs: NaN,
      steps: new Map(),
      failing: [`no JSON (exit ${r.exitCode}): ${r.stderr.slice(-300)}`],
    }
  }
  return {
    passed: report.passed,
    totalMs: report.durationMs,
    steps: new Map(report.steps.map((s) => [`${s.lab}/${s.step}`, s.durationMs])),
    failing: report.steps
      .filter((s) => !s.passed)
      .map((s) => `${s.lab}/${s.step}: ${s.failing.map((c) => `${c.id} ${c.status}: ${c.message}`).join(', ')}`),
  }
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN
}

/**
 * Busy loops, one per core, at normal priority: an attendee's VM with something else running. Each loop ends
 * itself when the benchmark is gone (its parent changed): a benchmark killed outright (SIGKILL, a timeout) left
 * two loops spinning for an hour on the development VM, and every figure taken meanwhile was a loaded one.
 */
const BUSY_LOOP =
  'const p = process.ppid; for (let i = 1; ; i++) if (i % 1e7 === 0 && process.ppid !== p) process.exit(0)'
function startLoad() {
  const n = availableParallelism()
  return Array.from({length: n}, () => spawn(process.execPath, ['-e', BUSY_LOOP], {stdio: 'ignore'}))
}

async function series(label, runs, loaded) {
  const load = loaded ? startLoad() : []
  try {
    const out = []
    const base = []
    const say = (what, i, r) =>
      console.error(
        `${what} run ${i + 1}/${runs}: ${r.passed ? 'passed' : 'FAILED'} in ${(r.totalMs / 1000).toFixed(1)} s${r.failing.length ? ` (${r.failing.join('; ')})` : ''}`,
      )
    for (let i = 0; i < runs; i++) {
      if (BASELINE) {
        const b = await autoRun(join(BASELINE, 'bin/run.js'))
        say(`${label} baseline`, i, b)
        base.push(b)
      }
      const r = await autoRun()
      say(label, i, r)
      out.push(r)
    }
    return Object.assign(out, {base})
  } finally {
    for (const p of load) p.kill('SIGKILL')
  }
}

const read = (rel, at = root) => readFileSync(join(at, rel), 'utf8')

/** A mutants.ts file of a lab's tests, as a module (esbuild strips the types). */
async function importTsAt(rel, at = root) {
  const {transform} = await import('esbuild')
  const {code} = await transform(read(rel, at), {loader: 'ts', format: 'esm'})
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)
}

/** Apply [find, replace] edits in order, as the labs' tests do (a missing anchor is an error). */
function applyEdits(text, edits) {
  for (const [find, replace] of edits) {
    if (!text.includes(find)) throw new Error(`mutant anchor missing: ${JSON.stringify(find.slice(0, 60))}`)
    text = text.replace(find, replace)
  }
  return text
}

/**
 * Every mutant of labs 1-4 that the labs' tests check as the files they write, as {lab, step, name, expect, files},
 * from the checkout at `at` (its labs' solutions and mutants).
 */
async function mutants(at = root) {
  const read = (rel) => readFileSync(join(at, rel), 'utf8')
  const importTs = (rel) => importTsAt(rel, at)
  const plugin2 = read('labs/02-ebpf-basics/solution/ebpfcni')
  const conf = read('labs/01-bridge-cni/solution/10-ebpfcni.conf')
  const out = []
  const {LAB1_MUTANTS} = await importTs('labs/01-bridge-cni/test/mutants.ts')
  const plugin1 = read('labs/01-bridge-cni/solution/ebpfcni')
  for (const m of LAB1_MUTANTS)
    out.push({lab: 1, m, files: {ebpfcni: applyEdits(plugin1, [[m.find, m.replace]]), '10-ebpfcni.conf': conf}})
  const {LAB2_MUTANTS} = await importTs('labs/02-ebpf-basics/test/mutants.ts')
  const lab2 = {'ebpfcni.bpf.c': read('labs/02-ebpf-basics/solution/ebpfcni.bpf.c'), ebpfcni: plugin2}
  const program2 = {...lab2, 'ebpfcni.bpf.c': read('labs/02-ebpf-basics/solution/program/ebpfcni.bpf.c')}
  // A mutant pinned otherwise than its files say (stale, unreloaded, none) needs the test's own set-up.
  for (const m of LAB2_MUTANTS.filter((x) => !x.pin)) {
    const base = m.base === 'program' ? program2 : lab2
    out.push({lab: 2, m, files: {...base, [m.file]: applyEdits(base[m.file], [[m.find, m.replace]])}})
  }
  // Labs 3 and 4: each mutant edits the program of the solution it names (m.base), with lab 2's plugin.
  const {LAB3_MUTANTS} = await importTs('labs/03-maps-monitoring/test/mutants.ts')
  const {LAB4_MUTANTS} = await importTs('labs/04-security-policy/test/mutants.ts')
  for (const [lab, dir, mutants] of [
    [3, 'labs/03-maps-monitoring', LAB3_MUTANTS],
    [4, 'labs/04-security-policy', LAB4_MUTANTS],
  ])
    for (const m of mutants)
      out.push({
        lab,
        m,
        files: {
          'ebpfcni.bpf.c': applyEdits(read(`${dir}/solution/${m.base}/ebpfcni.bpf.c`), m.edits),
          ebpfcni: plugin2,
        },
      })
  return out
}

/**
 * One pass over the core steps' mutants, in this process (the dist/ of the checkout at `at`, the
 * state dir set above): [{key: "lab/step", name, ms, passed, caught}] where caught is "the check
 * the test names failed first".
 */
async function failingRun(label, loaded, at = root) {
  const {getLab} = await import(join(at, 'dist/labs/catalogue.js'))
  const {ensureWorkspace} = await import(join(at, 'dist/labs/workspace.js'))
  const {loadWorkspaceProgram} = await import(join(at, 'dist/labs/deploy.js'))
  const {runChecks} = await import(join(at, 'dist/labs/checker.js'))
  const {ProgressStore} = await import(join(at, 'dist/host/progress.js'))
  const {createResetService} = await import(join(at, 'dist/reset/service.js'))
  const {labDiscoverers} = await import(join(at, 'dist/labs/registry.js'))
  const core = (n) =>
    new Set(
      getLab(n)
        .steps.filter((s) => s.level === 'core')
        .map((s) => s.id),
    )
  const eligible = (await mutants(at)).filter(
    ({lab, m}) => core(lab).has(m.step) && (!ONLY_STEPS || ONLY_STEPS.includes(`${lab}/${m.step}`)),
  )
  // One representative per step by default: the first its lab's mutants.ts lists for it.
  const all = ALL_MUTANTS
    ? eligible
    : eligible.filter((x, i) => eligible.findIndex((y) => y.lab === x.lab && y.m.step === x.m.step) === i)
  const scratch = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-mutants-'))
  const progress = new ProgressStore(join(scratch, 'progress.json'))
  const load = loaded ? startLoad() : []
  const out = []
  try {
    for (const [i, {lab, m, files}] of all.entries()) {
      const dir = join(scratch, `ws${i}`)
      ensureWorkspace(getLab(lab), dir)
      for (const [f, text] of Object.entries(files))
        writeFileSync(join(dir, f), text, {mode: f === 'ebpfcni' ? 0o755 : 0o644})
      const t0 = performance.now()
      await loadWorkspaceProgram(dir, {lab})
      const report = await runChecks({lab, step: m.step, workspace: dir, progress})
      const ms = performance.now() - t0
      const first = report.checks.find((c) => c.status === 'fail')?.id
      const caught =
        first === (m.firstFails ?? m.failsCheck) ||
        (lab !== 4 && report.checks.some((c) => c.id === m.failsCheck && c.status === 'fail'))
      out.push({key: `${lab}/${m.step}`, name: m.name, ms, passed: report.passed, caught})
      console.error(
        `${label} ${lab}/${m.step} "${m.name}": ${report.passed ? 'PASSED (a mutant must fail)' : `failed ${first}`}${caught ? '' : ` (expected ${m.firstFails ?? m.failsCheck})`} in ${(ms / 1000).toFixed(2)} s`,
      )
      // Reset after each mutant (not timed): what one left (a gateway on bridge0, XDP on the bridge)
      // would change the next one's verdict and time, as no attendee's run would.
      const reset = createResetService(await labDiscoverers(lab))
      await reset.execute(await reset.plan(lab))
    }
  } finally {
    for (const p of load) p.kill('SIGKILL')
    rmSync(scratch, {recursive: true, force: true})
  }
  return out
}

/**
 * One failingRun in a child process of this script (each checkout's dist/ in a process of its
 * own: two builds in one process would declare koffi's types twice), its results.
 */
async function failingPass(label, loaded, at = root) {
  const out = join(state, `failing-${label.replace(/\W+/g, '-')}.json`)
  await execa(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    env: {BENCH_FAILING_PASS: JSON.stringify({label, loaded, at, out})},
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  return JSON.parse(readFileSync(out, 'utf8'))
}

async function failingMode() {
  process.env.EBPFCNI_STATE_DIR = state
  process.env.CI = 'true'
  // With a baseline: its pass, then this checkout's, quiet and then loaded (in turn, as the passing mode).
  const busy = `loaded (${availableParallelism()} busy processes)`
  const baseQuiet = BASELINE ? await failingPass('quiet baseline', false, BASELINE) : []
  const quiet = await failingPass('quiet', false)
  const baseLoaded = BASELINE && LOADED_RUNS > 0 ? await failingPass(`${busy} baseline`, true, BASELINE) : []
  const loaded = LOADED_RUNS > 0 ? await failingPass(busy, true) : []
  const sec = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-')
  const worst = (rs, key) => rs.filter((r) => r.key === key).sort((a, b) => b.ms - a.ms)[0]
  const med = (rs, key) => median(rs.filter((r) => r.key === key).map((r) => r.ms))
  console.log(`\nstep check time against the labs' mutants (each once): median and slowest, quiet and loaded`)
  console.log('step                      mutants  quiet med  quiet max  loaded med loaded max  slowest (loaded)')
  for (const key of [...new Set(quiet.map((r) => r.key))]) {
    const n = quiet.filter((r) => r.key === key).length
    const wl = worst(loaded, key)
    console.log(
      `${key.padEnd(26)}${String(n).padEnd(9)}${sec(med(quiet, key)).padEnd(11)}${sec(worst(quiet, key)?.ms).padEnd(11)}${sec(med(loaded, key)).padEnd(11)}${sec(wl?.ms).padEnd(11)}${wl?.name ?? ''}`,
    )
  }
  if (BASELINE) {
    console.log(
      `\nagainst ${BASELINE}, run in turn with it: each step's slowest mutant, and this checkout's time / the baseline's`,
    )
    console.log('step                      base quiet quiet      ratio  base loaded loaded     ratio')
    for (const key of [...new Set(quiet.map((r) => r.key))]) {
      const [bq, q] = [worst(baseQuiet, key)?.ms, worst(quiet, key)?.ms]
      const [bl, l] = [worst(baseLoaded, key)?.ms, worst(loaded, key)?.ms]
      console.log(
        `${key.padEnd(26)}${sec(bq).padEnd(11)}${sec(q).padEnd(11)}${(q / bq).toFixed(2).padEnd(7)}${sec(bl).padEnd(12)}${sec(l).padEnd(11)}${(l / bl).toFixed(2)}`,
      )
    }
    const baseBad = [...baseQuiet, ...baseLoaded].filter((r) => r.passed || !r.caught)
    if (baseBad.length)
      console.log(
        `baseline mutants not failing as their tests say: ${baseBad.map((r) => `${r.key} "${r.name}"`).join('; ')}`,
      )
  }
  const bad = [...quiet, ...loaded].filter((r) => r.passed || !r.caught)
  console.log(
    `\nmutants failing as their tests say: quiet ${quiet.length - quiet.filter((r) => r.passed || !r.caught).length}/${quiet.length}, loaded ${loaded.length - loaded.filter((r) => r.passed || !r.caught).length}/${loaded.length}${bad.length ? ` (not: ${[...new Set(bad.map((r) => `${r.key} "${r.name}"`))].join('; ')})` : ''}`,
  )
}

async function passingMode() {
  const quiet = await series('quiet', RUNS, false)
  const loaded = await series(`loaded (${availableParallelism()} busy processes)`, LOADED_RUNS, true)
  const steps = [...(quiet.find((r) => r.steps.size)?.steps.keys() ?? [])]
  const sec = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '-')
  console.log(`\nstep check time, reference solutions: median of ${RUNS} quiet and ${LOADED_RUNS} loaded runs`)
  console.log('step                      quiet      loaded     loaded/quiet')
  for (const s of steps) {
    const q = median(quiet.map((r) => r.steps.get(s)))
    const l = median(loaded.map((r) => r.steps.get(s)))
    console.log(`${s.padEnd(26)}${sec(q).padEnd(11)}${sec(l).padEnd(11)}${(l / q).toFixed(2)}`)
  }
  const qt = median(quiet.map((r) => r.totalMs))
  const lt = median(loaded.map((r) => r.totalMs))
  console.log(`${`lab ${LAB} --auto`.padEnd(26)}${sec(qt).padEnd(11)}${sec(lt).padEnd(11)}${(lt / qt).toFixed(2)}`)
  if (BASELINE) {
    console.log(`\nagainst ${BASELINE}, run in turn with it: medians, and this checkout's time / the baseline's`)
    console.log('step                      base quiet quiet      ratio  base loaded loaded     ratio')
    for (const s of steps) {
      const [bq, q] = [median(quiet.base.map((r) => r.steps.get(s))), median(quiet.map((r) => r.steps.get(s)))]
      const [bl, l] = [median(loaded.base.map((r) => r.steps.get(s))), median(loaded.map((r) => r.steps.get(s)))]
      console.log(
        `${s.padEnd(26)}${sec(bq).padEnd(11)}${sec(q).padEnd(11)}${(q / bq).toFixed(2).padEnd(7)}${sec(bl).padEnd(12)}${sec(l).padEnd(11)}${(l / bl).toFixed(2)}`,
      )
    }
  }
  console.log(
    `\nruns passed: quiet ${quiet.filter((r) => r.passed).length}/${RUNS}, loaded ${loaded.filter((r) => r.passed).length}/${LOADED_RUNS}`,
  )
}

try {
  // A child of failingPass: one pass over the mutants with the parent's state dir, written to a file.
  const child = process.env.BENCH_FAILING_PASS && JSON.parse(process.env.BENCH_FAILING_PASS)
  if (child) writeFileSync(child.out, JSON.stringify(await failingRun(child.label, child.loaded, child.at)))
  else {
    if (MODE !== 'fail') await passingMode()
    if (MODE !== 'pass') await failingMode()
  }
} finally {
  rmSync(state, {recursive: true, force: true})
}
