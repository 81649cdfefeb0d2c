#!/usr/bin/env node
// The same check, on the same input, N times: every check must give one verdict every time
// (prints figures; not a test). A verdict that flips is a probe that does not prove its own
// packets' fate. The input is a workspace as the attendee would have it: a lab's starter with a
// file replaced (the reference, or a mutant of it).
// Each check's median duration is printed beside its verdicts.
// Usage (root): node scripts/verdict-stability.mjs LAB STEP FILE_IN_WORKSPACE=PATH [--runs 10] [--load]
//   e.g. node scripts/verdict-stability.mjs 4 networkpolicy ebpfcni.bpf.c=/tmp/never-drops.bpf.c
// --load: build and load the workspace's program first (`bpf build`, `bpf load`), as the attendee has before
// a step that uses the pinned program (lab 2 attach, trace) and as `lab all --auto` does.
// It takes the host lock itself (scripts/host-lock.mjs) for the whole series: another suite's
// resets half-way through would change verdicts that are not the checks' doing.
import {copyFileSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'
import {holdHostLock} from './host-lock.mjs'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const LOAD = process.argv.includes('--load')
const [lab, step, ...rest] = process.argv
  .slice(2)
  .filter((a, i, all) => a !== '--runs' && all[i - 1] !== '--runs' && a !== '--load')
const runsAt = process.argv.indexOf('--runs')
const RUNS = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 10
if (!lab || !step || process.getuid() !== 0) {
  console.error('usage (root): node scripts/verdict-stability.mjs LAB STEP [FILE=PATH ...] [--runs 10]')
  process.exit(2)
}
holdHostLock()
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-verdicts-'))
const ws = join(state, 'ws')
const env = {EBPFCNI_STATE_DIR: join(state, 'state'), CI: 'true'}
const cli = (args) =>
  execa('node', [join(root, 'bin/run.js'), ...args], {reject: false, env, stdin: 'ignore', timeout: 600_000})
try {
  await cli(['lab', lab, '--workspace', ws])
  for (const r of rest) {
    const [name, path] = r.split('=')
    copyFileSync(path, join(ws, name))
  }
  if (LOAD) {
    for (const args of [
      ['bpf', 'build'],
      ['bpf', 'load', '--replace'],
    ]) {
      const r = await cli([...args, '--workspace', ws])
      if (r.exitCode !== 0) throw new Error(`${args.join(' ')} failed before the checks:\n${r.stdout}\n${r.stderr}`)
    }
  }
  const verdicts = new Map()
  /** Each check's durations, for the median printed beside its verdicts (which check takes the time). */
  const times = new Map()
  /** The first message of each check's each verdict: a flip prints what the rarer verdict said. */
  const messages = new Map()
  for (let i = 0; i < RUNS; i++) {
    const r = await cli(['check', lab, '--step', step, '--workspace', ws, '--json'])
    const report = JSON.parse(r.stdout)
    for (const c of report.checks) {
      const v = verdicts.get(c.id) ?? {}
      v[c.status] = (v[c.status] ?? 0) + 1
      verdicts.set(c.id, v)
      if (!messages.has(`${c.id} ${c.status}`)) messages.set(`${c.id} ${c.status}`, c.message ?? '')
      times.set(c.id, [...(times.get(c.id) ?? []), c.durationMs ?? NaN])
    }
    process.stderr.write(`run ${i + 1}/${RUNS}: ${report.passed ? 'passed' : 'failed'} in ${report.durationMs} ms\n`)
  }
  let flips = 0
  for (const [id, v] of verdicts) {
    const kinds = Object.keys(v).length
    if (kinds > 1) flips++
    const ms = (times.get(id) ?? []).filter(Number.isFinite).sort((a, b) => a - b)
    const median = ms.length ? `${String(ms[Math.floor((ms.length - 1) / 2)]).padStart(6)} ms` : '     - ms'
    console.log(
      `${id.padEnd(28)} ${median}  ${Object.entries(v)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ')}${kinds > 1 ? '   <- not one verdict' : ''}`,
    )
    if (kinds > 1) {
      const rarer = Object.entries(v).sort((a, b) => a[1] - b[1])[0][0]
      console.log(`    ${rarer}: ${String(messages.get(`${id} ${rarer}`)).slice(0, 600)}`)
    }
  }
  console.log(
    `${verdicts.size} checks, ${RUNS} runs each: ${flips === 0 ? 'one verdict each' : `${flips} check(s) flipped`}`,
  )
} finally {
  await cli(['reset', '--all', '--yes'])
  rmSync(state, {recursive: true, force: true})
}
