#!/usr/bin/env node
// Benchmark of the learner's feedback loop (prints figures; not a test): each step's check time
// for the reference solutions (`ebpfcni lab all --auto --json`), on a quiet machine and with every
// core busy (one spinning process per core), and the ratio loaded/quiet per step. Under load it
// also counts how many whole runs passed: a check's verdict must not depend on the machine's speed.
// Usage (root): node scripts/bench-checks.mjs [--runs 3] [--loaded-runs 5]
import {mkdtempSync, rmSync} from 'node:fs'
import {availableParallelism, tmpdir} from 'node:os'
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {spawn} from 'node:child_process'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const RUNS = arg('runs', 3)
const LOADED_RUNS = arg('loaded-runs', 5)
if (process.getuid() !== 0) {
  console.error('bench-checks needs root (it runs the labs for real)')
  process.exit(2)
}

const state = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-checks-'))
const env = {EBPFCNI_STATE_DIR: state, CI: 'true'}
const cli = join(root, 'bin/run.js')

/** One `lab all --auto` run: {passed, totalMs, steps: Map("lab/step" -> ms), failing}. */
async function autoRun() {
  const r = await execa('node', [cli, 'lab', 'all', '--auto', '--json'], {
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
    failing: report.steps.filter((s) => !s.passed).map((s) => `${s.lab}/${s.step}: ${s.failing.join(', ')}`),
  }
}

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN
}

/** Busy loops, one per core, at normal priority: an attendee's VM with something else running. */
function startLoad() {
  const n = availableParallelism()
  return Array.from({length: n}, () => spawn(process.execPath, ['-e', 'for (;;) {}'], {stdio: 'ignore'}))
}

async function series(label, runs, loaded) {
  const load = loaded ? startLoad() : []
  try {
    const out = []
    for (let i = 0; i < runs; i++) {
      const r = await autoRun()
      console.error(
        `${label} run ${i + 1}/${runs}: ${r.passed ? 'passed' : 'FAILED'} in ${(r.totalMs / 1000).toFixed(1)} s${r.failing.length ? ` (${r.failing.join('; ')})` : ''}`,
      )
      out.push(r)
    }
    return out
  } finally {
    for (const p of load) p.kill('SIGKILL')
  }
}

try {
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
  console.log(`${'lab all --auto'.padEnd(26)}${sec(qt).padEnd(11)}${sec(lt).padEnd(11)}${(lt / qt).toFixed(2)}`)
  console.log(
    `\nruns passed: quiet ${quiet.filter((r) => r.passed).length}/${RUNS}, loaded ${loaded.filter((r) => r.passed).length}/${LOADED_RUNS}`,
  )
} finally {
  rmSync(state, {recursive: true, force: true})
}
