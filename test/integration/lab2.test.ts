import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, readFileSync, writeFileSync, chmodSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {runChecks} from '../../src/labs/checker.js'
import {getLab} from '../../src/labs/catalogue.js'
import {Ledger} from '../../src/host/ledger.js'
import {ProgressStore} from '../../src/host/progress.js'
import {buildBpf} from '../../src/bpf/build.js'
import {loadAndPin} from '../../src/bpf/programs.js'
import {tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'
import {LAB2_MUTANTS, type Lab2Mutant} from '../fixtures/lab2-mutants.js'

const LAB = join(repoRoot, 'labs/02-ebpf-basics')
const SOLUTION = {'ebpfcni.bpf.c': readFileSync(join(LAB, 'solution/ebpfcni.bpf.c'), 'utf8'), ebpfcni: readFileSync(join(LAB, 'solution/ebpfcni'), 'utf8')}

describe('lab 2 checks: the solution passes, the starter and every mutant fail with the right check', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `l2${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-t2${id}`
  const targets = {cniBinDir: join(t.dir, 'bin'), cniConfDir: join(t.dir, 'net.d')}
  const config = {cniVersion: '1.0.0', name: `ebpfcni${id}`, type: 'ebpfcni', podcidr: '10.246.0.0/24', bridge, dataDir: join(t.dir, 'ipam'), xdpPin: join(pinDir, 'xdp_prog')}
  let before: Awaited<ReturnType<typeof hostSnapshot>>
  const ledger = () => new Ledger(join(t.dir, 'ledger.json'))

  /** A workspace with the given files, the program built and pinned as the mutant says. */
  const prepare = async (name: string, files: Record<string, string>, pin: Lab2Mutant['pin'] = undefined, editAfterLoad?: Record<string, string>): Promise<string> => {
    const dir = join(t.dir, 'ws', name.replace(/\W+/g, '-'))
    mkdirSync(dir, {recursive: true})
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text)
    chmodSync(join(dir, 'ebpfcni'), 0o755)
    writeFileSync(join(dir, '10-ebpfcni.conf'), JSON.stringify(config))
    rmSync(pinDir, {recursive: true, force: true})
    if (pin !== 'none') {
      const built = await buildBpf(join(dir, 'ebpfcni.bpf.c'), join(dir, 'ebpfcni.bpf.o'))
      if (built.ok) loadAndPin(built.object, {pinDir, ledger: ledger(), lab: 2, replace: true})
      for (const [f, text] of Object.entries(editAfterLoad ?? {})) writeFileSync(join(dir, f), text)
    }
    return dir
  }
  const check = (dir: string, step?: string) =>
    runChecks({lab: 2, step, workspace: dir, targets, ledger: ledger(), progress: new ProgressStore(join(t.dir, 'progress.json')), timeoutMs: 3000})
  const settle = async () => {
    await deleteLinkQuietly(bridge)
    rmSync(pinDir, {recursive: true, force: true})
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    process.env.EBPFCNI_STATE_DIR = t.dir
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await settle()
    delete process.env.EBPFCNI_STATE_DIR
    t.cleanup()
  })

  it('the reference solution passes every lab 2 check and leaves nothing', async () => {
    const report = await check(await prepare('solution', SOLUTION))
    expect(report.checks.filter((c) => c.status !== 'pass'), JSON.stringify(report.checks, null, 1)).toEqual([])
    expect(report.checks.map((c) => c.id).sort()).toEqual(getLab(2).steps.flatMap((s) => s.checks).sort())
    await settle()
    expect(await hostSnapshot()).toEqual(before)
  }, 120_000)

  it('the untouched starter program fails every step', async () => {
    const starter = {'ebpfcni.bpf.c': readFileSync(join(LAB, 'starter/ebpfcni.bpf.c'), 'utf8'), ebpfcni: readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')}
    const dir = await prepare('starter', starter)
    for (const step of getLab(2).steps) {
      const report = await check(dir, step.id)
      expect(report.passed, `step ${step.id} passed on the starter`).toBe(false)
      for (const f of report.checks.filter((c) => c.status === 'fail')) expect(f.hint).toBeTruthy()
    }
    await settle()
  }, 120_000)

  for (const m of LAB2_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step})`, async () => {
      expect(SOLUTION[m.file].includes(m.find), `anchor missing: ${m.find}`).toBe(true)
      const files = {...SOLUTION, [m.file]: SOLUTION[m.file].replace(m.find, m.replace)}
      const dir = m.pin === 'stale' ? await prepare(m.name, SOLUTION, 'stale', files) : await prepare(m.name, files, m.pin)
      const report = await check(dir, m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      await settle()
      expect(await hostSnapshot(), `mutant ${m.name} left host objects`).toEqual(before)
    }, 120_000)
  }
})
