import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, readFileSync, writeFileSync, chmodSync, rmSync, copyFileSync} from 'node:fs'
import {join} from 'node:path'
import {runChecks} from '../../src/labs/checker.js'
import {getLab} from '../../src/labs/catalogue.js'
import {Ledger} from '../../src/host/ledger.js'
import {ProgressStore} from '../../src/host/progress.js'
import {tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'
import {LAB1_MUTANTS} from '../fixtures/lab1-mutants.js'

const LAB_DIR = join(repoRoot, 'labs/01-bridge-cni')
const SOLUTION = readFileSync(join(LAB_DIR, 'solution/ebpfcni'), 'utf8')

describe('lab 1 checks: the solution passes, every mutant fails with the right check', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `l1${id}`
  const ipamDir = join(t.dir, 'ipam')
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  // Private install targets and network, so a learner's own lab on this machine is untouched.
  const targets = {cniBinDir: join(t.dir, 'bin'), cniConfDir: join(t.dir, 'net.d')}
  const config = {cniVersion: '1.0.0', name: `ebpfcni${id}`, type: 'ebpfcni', podcidr: '10.245.0.0/24', bridge, dataDir: ipamDir}

  const workspace = (name: string, plugin: string): string => {
    const dir = join(t.dir, 'ws', name.replace(/\W+/g, '-'))
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'ebpfcni'), plugin)
    chmodSync(join(dir, 'ebpfcni'), 0o755)
    writeFileSync(join(dir, '10-ebpfcni.conf'), JSON.stringify(config))
    return dir
  }
  const check = (dir: string, step?: string, runtime: 'netns' | 'podman' = 'netns') =>
    runChecks({lab: 1, step, workspace: dir, targets, runtime, ledger: new Ledger(join(t.dir, 'ledger.json')), progress: new ProgressStore(join(t.dir, 'progress.json')), timeoutMs: 3000})

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    process.env.EBPFCNI_STATE_DIR = t.dir
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await deleteLinkQuietly(bridge)
    delete process.env.EBPFCNI_STATE_DIR
    t.cleanup()
  })

  it('the reference solution passes every lab 1 check, podman included, and leaves nothing', async () => {
    const report = await check(workspace('solution', SOLUTION), undefined, 'podman')
    const notPassing = report.checks.filter((c) => c.status !== 'pass')
    expect(notPassing, JSON.stringify(notPassing, null, 1)).toEqual([])
    expect(report.checks.map((c) => c.id).sort()).toEqual(getLab(1).steps.flatMap((s) => s.checks).sort())
    expect(report.passed).toBe(true)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
    // Only the installed files remain in the ledger (reset removes them).
    expect(new Ledger(join(t.dir, 'ledger.json')).entries().map((e) => e.kind).sort()).toEqual(['file', 'file'])
  }, 180_000)

  for (const m of LAB1_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step}) with a helpful message`, async () => {
      expect(SOLUTION.includes(m.find), `the mutant's anchor is no longer in the solution: ${m.find}`).toBe(true)
      const report = await check(workspace(m.name, SOLUTION.replace(m.find, m.replace)), m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks.filter((c) => c.status !== 'pass'), null, 1)).toBe('fail')
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      expect(report.passed).toBe(false)
      await deleteLinkQuietly(bridge)
      const now = await hostSnapshot()
      expect(now, `mutant ${m.name} left host objects`).toEqual(before)
    }, 120_000)
  }
})
