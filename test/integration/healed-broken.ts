import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {copyFileSync, chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {runChecks} from '../../src/labs/checker.js'
import {loadLabs, type Lab, type LabStep} from '../../src/labs/catalogue.js'
import {ProgressStore} from '../../src/host/progress.js'
import {loadWorkspaceProgram} from '../../src/labs/deploy.js'
import {labHarness} from '../helpers/lab-harness.js'

// Healed and broken, for every step of every lab (healed-broken*.test.ts, by lab): the untouched starter fails the step's
// checks (no check passes on a starter by accident), and the starter with the solutions up to
// and including the step passes them (no solution drifts from its checks).

/**
 * Which test file heals which labs. Lab 2's checks read trace_pipe and its program prints: its file runs
 * in the one shard that does (scripts/test-shards.mjs). A new lab goes in one of them (a lab in none
 * fails the first file).
 */
export const LABS_BY_FILE: Record<string, number[]> = {
  'healed-broken.test.ts': [1, 3, 4],
  'healed-broken-trace.test.ts': [2],
  'healed-broken-labs5-6.test.ts': [5, 6],
}

/** Every step of the labs LABS_BY_FILE gives this file: starter fails it, solution passes it. */
export function describeHealedBroken(file: keyof typeof LABS_BY_FILE): void {
  describe(`every step of labs ${LABS_BY_FILE[file].join(', ')}: starter fails it, solution passes it`, () => {
    // One harness for all labs: its lab number is unused, runChecks is called per lab below.
    const h = labHarness(1, {tag: 'hb', subnet: '10.252.0.0/24'})
    const {t, isolate, targets, ledger} = h

    /** The lab's starter, then the solutions of steps[0..upto] applied in order. */
    const workspace = async (lab: Lab, upto: LabStep | undefined, tag: string): Promise<string> => {
      const dir = join(t.dir, 'ws', `${lab.id}-${tag}`)
      rmSync(dir, {recursive: true, force: true})
      mkdirSync(dir, {recursive: true})
      const files: Record<string, string> = {...lab.starter}
      for (const s of lab.steps.slice(0, upto ? lab.steps.indexOf(upto) + 1 : 0)) Object.assign(files, s.solution)
      for (const [name, rel] of Object.entries(files)) {
        copyFileSync(join(lab.dir, rel), join(dir, name))
        chmodSync(join(dir, name), statSync(join(lab.dir, rel)).mode & 0o777)
      }
      const conf = join(dir, '10-ebpfcni.conf')
      try {
        writeFileSync(conf, JSON.stringify({...JSON.parse(readFileSync(conf, 'utf8')), ...isolate}))
      } catch {
        // A starter config that is not JSON yet stays as the learner gets it.
      }
      // Lab 2's learner loads the program by hand after editing it; the solution path does the same.
      if (upto && lab.id === 2) await loadWorkspaceProgram(dir, {lab: 2, ledger: ledger()})
      return dir
    }
    const check = (lab: number, step: string, dir: string) =>
      runChecks({
        lab,
        step,
        workspace: dir,
        targets,
        ledger: ledger(),
        progress: new ProgressStore(join(t.dir, 'progress.json')),
        timeoutMs: 3000,
      })
    const settle = () => h.settle()

    beforeAll(() => h.setup())
    afterAll(() => h.teardown())

    if (file === 'healed-broken.test.ts')
      it('every lab is healed in one file', () => {
        const split = Object.values(LABS_BY_FILE).flat()
        expect([...split].sort(), 'LABS_BY_FILE: each lab in exactly one file').toEqual(
          loadLabs()
            .map((l) => l.id)
            .sort(),
        )
      })

    for (const lab of loadLabs().filter((l) => LABS_BY_FILE[file].includes(l.id))) {
      for (const step of lab.steps) {
        it(`lab ${lab.id} step ${step.id}: broken on the starter, healed by the solution`, async () => {
          const t0 = performance.now()
          const broken = await check(lab.id, step.id, await workspace(lab, undefined, 'starter'))
          const t1 = performance.now()
          expect(broken.passed, `lab ${lab.id} step ${step.id} passed on the untouched starter`).toBe(false)
          for (const f of broken.checks.filter((c) => c.status === 'fail')) {
            expect(f.hint, `${f.id} failed without a hint`).toBeTruthy()
            expect(f.message).not.toMatch(/the check itself hit an error/)
          }
          await settle()
          const t2 = performance.now()
          const healed = await check(lab.id, step.id, await workspace(lab, step, step.id))
          expect(
            // A check skipped for what the machine lacks (netkit on a kernel without it) counts as done, never as a pass.
            healed.checks.filter(
              (c) => c.status !== 'pass' && c.id !== 'runtime.podman' && !(c.status === 'skip' && c.unsupported),
            ),
            JSON.stringify(healed.checks, null, 1),
          ).toEqual([])
          expect(healed.passed).toBe(true)
          // Where the time goes (the suite's slowest-tests list names this test; this says which half).
          console.log(
            `lab ${lab.id} ${step.id}: starter ${((t1 - t0) / 1000).toFixed(1)} s, solution ${((performance.now() - t2) / 1000).toFixed(1)} s`,
          )
          await settle()
          expect(await h.snapshot()).toEqual(h.before())
        }, 180_000)
      }
    }
  })
}
