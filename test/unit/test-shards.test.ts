import {describe, it, expect} from 'vitest'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {repoRoot} from '../helpers/env.js'
import {BESIDE, HOST, TOGETHER} from '../../scripts/test-shards.mjs'
import {GROUPS_BY_FILE} from '../integration/documented-commands.js'
import {LABS_BY_FILE} from '../integration/healed-broken.js'

// scripts/test-shards.mjs plans where scripts/test.sh runs each test file. A file that reads trace_pipe
// or runs lab 2's printing program, put in a shard of its own, would split trace_pipe's lines with the
// trace shard's readers: a flaky suite, not a failing one. These tests catch such a plan before it runs.

type Plan = {kind: string; shard?: number; file: string}[]
async function plan(...args: string[]): Promise<Plan> {
  const r = await execa('node', [join(repoRoot, 'scripts/test-shards.mjs'), ...args], {cwd: repoRoot})
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .map((w) => (w.length === 3 ? {kind: w[0], shard: Number(w[1]), file: w[2]} : {kind: w[0], file: w[1]}))
}

/** What marks a file as a trace_pipe reader or a runner of lab 2's printing program (a heuristic, by its source). */
const TRACE_USE = /'lab', 'all'|'bpf', 'trace'|trace_pipe|02-ebpf-basics\/(solution|starter)[^']*\.bpf\.c|'check', '2'/

describe('the test suite plan (scripts/test-shards.mjs)', () => {
  it('runs every test file once: unit files as unit, the rest on the host, beside the shards or in a shard', async () => {
    const p = await plan('--shards', '3')
    const files = p.map((x) => x.file)
    expect(new Set(files).size, 'a file planned twice').toBe(files.length)
    const unit = readdirSync(join(repoRoot, 'test/unit')).filter((f) => f.endsWith('.test.ts'))
    expect([...files].sort()).toEqual([...readdirTests(), ...unit.map((f) => `test/unit/${f}`)].sort())
    for (const x of p) if (x.file.startsWith('test/unit/')) expect(x.kind, x.file).toBe('unit')
    expect(p.filter((x) => x.kind === 'host').map((x) => x.file)).toEqual(Object.keys(HOST).sort())
    expect(p.filter((x) => x.kind === 'beside').map((x) => x.file)).toEqual(Object.keys(BESIDE).sort())
  })

  it('puts every trace_pipe reader in one shard, marked to run first under the trace lock', async () => {
    const p = await plan('--shards', '3')
    const traced = p.filter((x) => x.kind === 'trace')
    expect(traced.map((x) => x.file).sort()).toEqual([...TOGETHER].sort())
    expect(new Set(traced.map((x) => x.shard)).size).toBe(1)
  })

  it('has every file that reads trace_pipe or runs lab 2 in TOGETHER (or on the host)', () => {
    const placed = new Set([...TOGETHER, ...Object.keys(HOST), ...Object.keys(BESIDE)])
    const p = readdirTests()
    const stray = p.filter((f) => !placed.has(f) && TRACE_USE.test(readFileSync(join(repoRoot, f), 'utf8')))
    expect(stray, 'these read trace_pipe or run lab 2: add them to TOGETHER').toEqual([])
    // The heuristic sees the readers it is for (else the line above proves nothing).
    for (const f of [
      'test/integration/guided.test.ts',
      'test/integration/interrupt.test.ts',
      'test/integration/bpf-trace.test.ts',
    ])
      expect(TRACE_USE.test(readFileSync(join(repoRoot, f), 'utf8')), f).toBe(true)
    // The split files: the one with lab 2's documented commands (and lab all --auto), and lab 2's steps.
    for (const [file, groups] of Object.entries(GROUPS_BY_FILE))
      if (groups.includes('lab2') || groups.includes('end')) expect(TOGETHER).toContain(`test/integration/${file}`)
    for (const [file, labs] of Object.entries(LABS_BY_FILE))
      if (labs.includes(2)) expect(TOGETHER).toContain(`test/integration/${file}`)
  })

  it('balances by the estimates, a filter picks files by path, and --shards 1 makes one shard', async () => {
    const one = await plan('--shards', '1', 'lab1.test', 'lab2.test')
    expect(one).toEqual([
      {kind: 'shard', shard: 1, file: 'labs/01-bridge-cni/test/lab1.test.ts'},
      {kind: 'trace', shard: 1, file: 'labs/02-ebpf-basics/test/lab2.test.ts'},
    ])
    const two = await plan('--shards', '2', 'lab1.test', 'lab3.test', 'lab4.test')
    // The longest alone (lab 4's estimate), the two others together.
    expect(two.filter((x) => x.file.includes('lab4')).map((x) => x.shard)).toHaveLength(1)
    const lab4Shard = two.find((x) => x.file.includes('lab4'))!.shard
    expect(two.filter((x) => x.shard === lab4Shard)).toHaveLength(1)
  })
})

/** The integration and lab test files, as paths from the checkout. */
function readdirTests(): string[] {
  const out: string[] = []
  for (const f of readdirSync(join(repoRoot, 'test/integration')))
    if (f.endsWith('.test.ts')) out.push(`test/integration/${f}`)
  for (const lab of readdirSync(join(repoRoot, 'labs')))
    try {
      for (const f of readdirSync(join(repoRoot, 'labs', lab, 'test')))
        if (f.endsWith('.test.ts')) out.push(`labs/${lab}/test/${f}`)
    } catch {
      // a lab without tests
    }
  return out
}
