#!/usr/bin/env node
// How much an attendee reads when a step fails: for each mutant of a lab 3 or 4 step (the labs'
// test/mutants.ts), the program it names written to a scratch workspace, `ebpfcni check N --step S`
// run as an attendee runs it, and the characters printed, with each failing check's message and
// hint (--json). Figures for "one cause, one long message" (issue 32); no timing.
// Usage: node scripts/check-output.mjs --lab 4 [--step deny,networkpolicy] [--root DIR]
//   --root: another checkout, built (its bin/run.js, dist/, solutions and mutants), for a before.
// Touches the host like `check` does: run it in a private host (dev-N) or under the host lock.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

const here = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : fallback
}
const root = resolve(arg('root', here))
const lab = Number(arg('lab', '4'))
const steps = arg('step')?.split(',')
const dirs = {3: 'labs/03-maps-monitoring', 4: 'labs/04-security-policy'}
if (!dirs[lab]) throw new Error('--lab 3 or 4: their mutants edit a solution program (base, edits)')

const read = (rel) => readFileSync(join(root, rel), 'utf8')
const {transform} = await import('esbuild')
const {code} = await transform(read(`${dirs[lab]}/test/mutants.ts`), {loader: 'ts', format: 'esm'})
const mutants = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`))[
  `LAB${lab}_MUTANTS`
]
const {getLab} = await import(join(root, 'dist/labs/catalogue.js'))
const {ensureWorkspace} = await import(join(root, 'dist/labs/workspace.js'))
const plugin = read('labs/02-ebpf-basics/solution/ebpfcni')

function applyEdits(text, edits) {
  for (const [find, replace] of edits) {
    if (!text.includes(find)) throw new Error(`mutant anchor missing: ${JSON.stringify(find.slice(0, 60))}`)
    text = text.replace(find, replace)
  }
  return text
}

const scratch = mkdtempSync(join(tmpdir(), 'ebpfcni-check-output-'))
const env = {EBPFCNI_STATE_DIR: join(scratch, 'state'), CI: 'true', NO_COLOR: '1'}
// A learner's program can hang a check run: every run has a timeout, and its output is what it printed.
const check = (ws, step, json) =>
  execa(
    process.execPath,
    [join(root, 'bin/run.js'), 'check', String(lab), '--step', step, '--workspace', ws, ...(json ? ['--json'] : [])],
    {env, reject: false, all: true, timeout: 300_000, maxBuffer: 16 * 1024 * 1024},
  )
try {
  console.log('mutant (step)\tprinted\tfailing checks: message + hint characters')
  for (const [i, m] of mutants.entries()) {
    if (steps && !steps.includes(m.step)) continue
    const ws = join(scratch, `ws${i}`)
    ensureWorkspace(getLab(lab), ws)
    writeFileSync(join(ws, 'ebpfcni.bpf.c'), applyEdits(read(`${dirs[lab]}/solution/${m.base}/ebpfcni.bpf.c`), m.edits))
    writeFileSync(join(ws, 'ebpfcni'), plugin, {mode: 0o755})
    const text = await check(ws, m.step, false)
    const json = await check(ws, m.step, true)
    let failed = []
    try {
      failed = JSON.parse(json.stdout).checks.filter((c) => c.status === 'fail')
    } catch {
      failed = [{id: `no JSON report (exit ${json.exitCode})`, message: '', hint: ''}]
    }
    const per = failed.map((c) => `${c.id} ${(c.message ?? '').length + (c.hint ?? '').length}`)
    console.log(`${m.name} (${m.step})\t${text.all.length}\t${per.join(', ') || 'none failed'}`)
  }
} finally {
  rmSync(scratch, {recursive: true, force: true})
}
