import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {readFileSync, writeFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {getLab} from '#engine/catalogue.js'
import {buildBpf} from '#bpf/build.js'
import {loadAndPin} from '#bpf/programs.js'
import {repoRoot} from '#test/helpers/env.js'
import {labHarness} from '#test/helpers/lab-harness.js'
import {LAB2_MUTANTS, type Lab2Mutant} from './mutants.js'

const LAB = join(repoRoot, 'labs/02-ebpf-basics')
const SOLUTION = {
  'ebpfcni.bpf.c': readFileSync(join(LAB, 'solution/ebpfcni.bpf.c'), 'utf8'),
  ebpfcni: readFileSync(join(LAB, 'solution/ebpfcni'), 'utf8'),
}
/** Step program's reference (no printk yet), for the mutants made from it. */
const PROGRAM_SOLUTION = {
  ...SOLUTION,
  'ebpfcni.bpf.c': readFileSync(join(LAB, 'solution/program/ebpfcni.bpf.c'), 'utf8'),
}

describe('lab 2 checks: the solution passes, every mutant fails with the right check', () => {
  const h = labHarness(2, {tag: 'l2', subnet: '10.246.0.0/24'})
  const {pinDir, ledger} = h
  const check = h.check
  const settle = () => h.settle()

  /** A workspace with the given files, the program built and pinned as the mutant says. */
  const prepare = async (
    name: string,
    files: Record<string, string>,
    pin: Lab2Mutant['pin'] = undefined,
    editAfterLoad?: Record<string, string>,
  ): Promise<string> => {
    const dir = h.workspace(name, files)
    rmSync(pinDir, {recursive: true, force: true})
    if (pin !== 'none') {
      const built = await buildBpf(join(dir, 'ebpfcni.bpf.c'), join(dir, 'ebpfcni.bpf.o'))
      if (built.ok) loadAndPin(built.object, {pinDir, ledger: ledger(), lab: 2, replace: true})
      for (const [f, text] of Object.entries(editAfterLoad ?? {})) writeFileSync(join(dir, f), text)
    }
    return dir
  }

  beforeAll(() => h.setup())
  afterAll(() => h.teardown())

  it('the reference solution passes every lab 2 check and leaves nothing', async () => {
    const report = await check(await prepare('solution', SOLUTION))
    expect(
      report.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(report.checks, null, 1),
    ).toEqual([])
    // A passing check names what it checked and quotes what the program printed, not a cut line.
    const byId = (id: string) => report.checks.find((c) => c.id === id)!.message
    expect(byId('bpf.pinned')).toMatch(/\(your config's xdpPin\): XDP program \d+/)
    expect(byId('bpf.trace-shows-traffic')).toMatch(/e\.g\. "ebpfcni: src=[\d.]+ dst=[\d.]+"$/)
    expect(report.checks.map((c) => c.id).sort()).toEqual(
      getLab(2)
        .steps.flatMap((s) => s.checks)
        .sort(),
    )
    await settle()
    expect(await h.snapshot()).toEqual(h.before())
  }, 120_000)

  for (const m of LAB2_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step})`, async () => {
      const base = m.base === 'program' ? PROGRAM_SOLUTION : SOLUTION
      expect(base[m.file].includes(m.find), `anchor missing: ${m.find}`).toBe(true)
      const files = {...base, [m.file]: base[m.file].replace(m.find, m.replace)}
      const dir =
        m.pin === 'stale'
          ? await prepare(m.name, base, 'stale', files)
          : m.pin === 'unreloaded'
            ? await prepare(m.name, files, 'stale', base)
            : await prepare(m.name, files, m.pin)
      const report = await check(dir, m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      if (m.message) {
        // The first failing check, in the order the step runs them, names the cause the mutant made.
        expect(report.checks.find((c) => c.status === 'fail')?.id).toBe(m.failsCheck)
        expect(`${target!.message} ${target!.hint}`).toMatch(m.message)
      }
      for (const o of m.others ?? []) {
        const c = report.checks.find((x) => x.id === o.id)
        expect(c?.status, JSON.stringify(c, null, 1)).toBe(o.status)
        if (o.message) expect(`${c!.message} ${c!.hint ?? ''}`).toMatch(o.message)
      }
      await settle()
      expect(await h.snapshot(), `mutant ${m.name} left host objects`).toEqual(h.before())
    }, 120_000)
  }
})
