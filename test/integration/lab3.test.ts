import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, readFileSync, writeFileSync, chmodSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {runChecks} from '../../src/labs/checker.js'
import {getLab} from '../../src/labs/catalogue.js'
import {Ledger} from '../../src/host/ledger.js'
import {ProgressStore} from '../../src/host/progress.js'
import {tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'
import {LAB3_MUTANTS} from '../fixtures/lab3-mutants.js'

const LAB = join(repoRoot, 'labs/03-maps-monitoring')
const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8')
const PLUGIN = read('labs/02-ebpf-basics/solution/ebpfcni')
const PROGRAMS = {counter: read('labs/03-maps-monitoring/solution/counter/ebpfcni.bpf.c'), percpu: read('labs/03-maps-monitoring/solution/ebpfcni.bpf.c')}

describe('lab 3 checks: the solutions pass, every mutant fails with the right check', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `l3${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-t3${id}`
  const targets = {cniBinDir: join(t.dir, 'bin'), cniConfDir: join(t.dir, 'net.d')}
  const config = {cniVersion: '1.0.0', name: `ebpfcni${id}`, type: 'ebpfcni', podcidr: '10.247.0.0/24', bridge, dataDir: join(t.dir, 'ipam'), xdpPin: join(pinDir, 'xdp_prog')}
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  const workspace = (name: string, program: string): string => {
    const dir = join(t.dir, 'ws', name.replace(/\W+/g, '-'))
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), program)
    writeFileSync(join(dir, 'ebpfcni'), PLUGIN)
    chmodSync(join(dir, 'ebpfcni'), 0o755)
    writeFileSync(join(dir, '10-ebpfcni.conf'), JSON.stringify(config))
    return dir
  }
  const check = (dir: string, step?: string) =>
    runChecks({lab: 3, step, workspace: dir, targets, ledger: new Ledger(join(t.dir, 'ledger.json')), progress: new ProgressStore(join(t.dir, 'progress.json')), timeoutMs: 3000})
  // The checks load the program themselves; each case starts from an empty pin dir.
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

  it('the per-CPU reference passes every lab 3 check, and leaves only its pins (removed here)', async () => {
    const report = await check(workspace('solution', PROGRAMS.percpu))
    expect(report.checks.filter((c) => c.status !== 'pass'), JSON.stringify(report.checks, null, 1)).toEqual([])
    expect(report.checks.map((c) => c.id).sort()).toEqual([...new Set(getLab(3).steps.flatMap((s) => s.checks))].sort())
    await settle()
    expect(await hostSnapshot()).toEqual(before)
  }, 120_000)

  it('step 1\'s shared-hash reference passes the counter and metrics steps', async () => {
    const dir = workspace('step1', PROGRAMS.counter)
    for (const step of ['counter', 'metrics']) {
      const report = await check(dir, step)
      expect(report.checks.filter((c) => c.status !== 'pass'), JSON.stringify(report.checks, null, 1)).toEqual([])
    }
    await settle()
  }, 120_000)

  for (const m of LAB3_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step})`, async () => {
      let program = PROGRAMS[m.base]
      for (const [find, replace] of m.edits) {
        expect(program.includes(find), `anchor missing: ${find}`).toBe(true)
        program = program.replace(find, replace)
      }
      const report = await check(workspace(m.name, program), m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      await settle()
      expect(await hostSnapshot(), `mutant ${m.name} left host objects`).toEqual(before)
    }, 120_000)
  }
})
