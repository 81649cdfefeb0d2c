import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {getLab} from '#engine/catalogue.js'
import {CHECK_TEXT_CAP} from '#checks/engine.js'
import {repoRoot} from '#test/helpers/env.js'
import {labHarness} from '#test/helpers/lab-harness.js'
import {applyEdits} from '#test/helpers/mutants.js'
import {LAB3_MUTANTS} from './mutants.js'

const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8')
const PLUGIN = read('labs/02-ebpf-basics/solution/ebpfcni')
const PROGRAMS = {
  counter: read('labs/03-maps-monitoring/solution/counter/ebpfcni.bpf.c'),
  percpu: read('labs/03-maps-monitoring/solution/percpu/ebpfcni.bpf.c'),
}

describe('lab 3 checks: the solutions pass, every mutant fails with the right check', () => {
  // The checks load the program themselves; each case starts from an empty pin dir.
  const h = labHarness(3, {tag: 'l3', subnet: '10.247.0.0/24'})
  const workspace = (name: string, program: string) => h.workspace(name, {'ebpfcni.bpf.c': program, ebpfcni: PLUGIN})

  beforeAll(() => h.setup())
  afterAll(() => h.teardown())

  it('the per-CPU reference passes every lab 3 check, and leaves only its pins (removed here)', async () => {
    const report = await h.check(workspace('solution', PROGRAMS.percpu))
    expect(
      report.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(report.checks, null, 1),
    ).toEqual([])
    expect(report.checks.map((c) => c.id).sort()).toEqual([...new Set(getLab(3).steps.flatMap((s) => s.checks))].sort())
    await h.settle()
    expect(await h.snapshot()).toEqual(h.before())
  }, 120_000)

  it("step 1's shared-hash reference passes the counter and metrics steps", async () => {
    const dir = workspace('step1', PROGRAMS.counter)
    for (const step of ['counter', 'metrics']) {
      const report = await h.check(dir, step)
      expect(
        report.checks.filter((c) => c.status !== 'pass'),
        JSON.stringify(report.checks, null, 1),
      ).toEqual([])
    }
    await h.settle()
  }, 120_000)

  it('a __u32 count passes step metrics, and the run says step counter now fails on it (map.counter.pinned)', async () => {
    const u32 = applyEdits(PROGRAMS.counter, [
      ['\t__type(value, __u64);\n', '\t__type(value, __u32);\n'],
      ['__u64 *packets', '__u32 *packets'],
      ['__u64 zero = 0;', '__u32 zero = 0;'],
    ])
    const report = await h.check(workspace('u32-metrics', u32), 'metrics')
    expect(report.passed, JSON.stringify(report.checks, null, 1)).toBe(true)
    expect(report.earlierStepFails).toEqual(
      expect.objectContaining({
        step: 'counter',
        check: 'map.counter.pinned',
        message: expect.stringMatching(/value is 4 bytes/),
      }),
    )
    await h.settle()
    expect(await h.snapshot()).toEqual(h.before())
  }, 120_000)

  it('a per-CPU map that inserts 1 with BPF_ANY passes map.counter.first-packet: a racing insert writes only its own slot', async () => {
    // The kernel updates an existing per-CPU key in place, this CPU's slot only: nothing to lose.
    const insertAny = applyEdits(PROGRAMS.percpu, [
      [
        '\t\t__u64 zero = 0;\n\t\tbpf_map_update_elem(&counter, &key, &zero, BPF_NOEXIST);\n\t\tpackets = bpf_map_lookup_elem(&counter, &key);\n\t\tif (!packets)\n\t\t\treturn XDP_PASS; /* map full: count nothing, drop nothing */',
        '\t\t__u64 one = 1;\n\t\tbpf_map_update_elem(&counter, &key, &one, BPF_ANY);\n\t\treturn XDP_PASS;',
      ],
    ])
    const report = await h.check(workspace('percpu-insert-any', insertAny), 'percpu')
    expect(report.passed, JSON.stringify(report.checks, null, 1)).toBe(true)
    expect(report.checks.find((c) => c.id === 'map.counter.first-packet')?.message).toMatch(
      /BPF_ANY.*only its own CPU's slot/,
    )
    await h.settle()
  }, 120_000)

  for (const m of LAB3_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step})`, async () => {
      const report = await h.check(workspace(m.name, applyEdits(PROGRAMS[m.base], m.edits)), m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(report.passed).toBe(false)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      // The first check to fail is the one for this mistake, and it names the cause.
      const first = report.checks.find((c) => c.status === 'fail')!
      expect(first.id, JSON.stringify(report.checks, null, 1)).toBe(m.failsCheck)
      if (m.says) expect(`${first.message}\n${first.hint}`).toMatch(m.says)
      if (m.then) {
        const later = report.checks.find((c) => c.id === m.then!.check)
        expect(later?.status, JSON.stringify(later, null, 1)).toBe('fail')
        expect(later!.hint).toMatch(m.then.says)
      }
      for (const c of report.checks)
        expect(`${c.message}${c.hint ?? ''}`.length, c.id).toBeLessThanOrEqual(2 * CHECK_TEXT_CAP)
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      await h.settle()
      expect(await h.snapshot(), `mutant ${m.name} left host objects`).toEqual(h.before())
    }, 120_000)
  }
})
