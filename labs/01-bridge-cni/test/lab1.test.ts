import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, readFileSync, writeFileSync, chmodSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {runChecks} from '#engine/checker.js'
import {getLab} from '#engine/catalogue.js'
import {Ledger} from '#host/ledger.js'
import {ProgressStore} from '#host/progress.js'
import {tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '#test/helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '#test/helpers/host.js'
import {LAB1_MUTANTS} from './mutants.js'
import {nodeBinDir} from '#test/helpers/lab-harness.js'
import {SKELETON_CHECKS} from '../checks/skeleton.js'

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
  const config = {
    cniVersion: '1.0.0',
    name: `ebpfcni${id}`,
    type: 'ebpfcni',
    podcidr: '10.245.0.0/24',
    bridge,
    dataDir: ipamDir,
  }

  const workspace = (name: string, plugin: string): string => {
    const dir = join(t.dir, 'ws', name.replace(/\W+/g, '-'))
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'ebpfcni'), plugin)
    chmodSync(join(dir, 'ebpfcni'), 0o755)
    writeFileSync(join(dir, '10-ebpfcni.conf'), JSON.stringify(config))
    return dir
  }
  const check = (dir: string, step?: string, runtime: 'netns' | 'podman' = 'netns') =>
    runChecks({
      lab: 1,
      step,
      workspace: dir,
      targets,
      runtime,
      ledger: new Ledger(join(t.dir, 'ledger.json')),
      progress: new ProgressStore(join(t.dir, 'progress.json')),
      timeoutMs: 3000,
    })

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    nodeBinDir(targets.cniBinDir)
    process.env.EBPFCNI_STATE_DIR = t.dir
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await deleteLinkQuietly(bridge)
    delete process.env.EBPFCNI_STATE_DIR
    t.cleanup()
  })

  it("the VERSION hint lists the versions the starter's SUPPORTED holds, 0.3.0 included", () => {
    const starter = readFileSync(join(LAB_DIR, 'starter/ebpfcni'), 'utf8')
    const supported = /^SUPPORTED='(\[.*\])'$/m.exec(starter)![1]
    const hint = SKELETON_CHECKS.find((c) => c.id === 'cni.version')!.hint!
    expect(JSON.parse(supported)).toContain('0.3.0')
    expect(hint).toContain(`"supportedVersions": ${supported.replaceAll(', ', ',')}`)
  })

  it('the reference solution passes every lab 1 check, podman included, and leaves nothing', async () => {
    const report = await check(workspace('solution', SOLUTION), undefined, 'podman')
    const notPassing = report.checks.filter((c) => c.status !== 'pass')
    expect(notPassing, JSON.stringify(notPassing, null, 1)).toEqual([])
    expect(report.checks.map((c) => c.id).sort()).toEqual(
      getLab(1)
        .steps.flatMap((s) => s.checks)
        .sort(),
    )
    expect(report.passed).toBe(true)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
    // Only the installed files remain in the ledger (reset removes them).
    expect(
      new Ledger(join(t.dir, 'ledger.json'))
        .entries()
        .map((e) => e.kind)
        .sort(),
    ).toEqual(['file', 'file'])
  }, 180_000)

  it('a plugin that hangs in ADD is named once, with the call and the time; later checks skip instead of waiting', async () => {
    const hanging = SOLUTION.replace('ADD)\n  [ -e "$CNI_NETNS" ]', 'ADD)\n  sleep 3600\n  [ -e "$CNI_NETNS" ]')
    expect(hanging).not.toBe(SOLUTION)
    const report = await check(workspace('hangs', hanging))
    const failed = report.checks.filter((c) => c.status === 'fail')
    const skipped = report.checks.filter((c) => c.status === 'skip')
    // Step 1's error cases are refused before the hang; the first good ADD is where it shows.
    expect(failed.map((c) => c.id)).toEqual(['cni.add.succeeds'])
    expect(failed[0].message).toMatch(/ADD of plugin "ebpfcni" did not finish within 3 s and was killed \(a hang/)
    const later = report.checks.slice(report.checks.findIndex((c) => c.id === 'cni.add.succeeds') + 1)
    expect(later.length).toBeGreaterThan(10)
    for (const c of later) expect(c.status, `${c.id}: ${c.message}`).toBe('skip')
    // Checks with their own pods are not run at all: they name the hang instead of waiting on it.
    for (const id of ['cni.del.cleanup', 'cni.ipam.unique', 'runtime.podman']) {
      expect(report.checks.find((c) => c.id === id)?.message).toMatch(
        /your plugin hung earlier in this run \(ADD \(pod "httpbin"\) was killed after 3\.\d s\)/,
      )
    }
    expect(skipped.length).toBe(later.length)
    // Nothing of the plugin outlives the run: no `sleep 3600` anywhere.
    const ps = await execa('pgrep', ['-f', '^sleep 3600$'], {reject: false})
    expect(ps.stdout.trim(), "a hung plugin's sleep is still running").toBe('')
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  }, 120_000)

  it('a DEL that exits 0 and echoes on stdout passes step del, with a note (SPEC §DEL names no output)', async () => {
    const echo = SOLUTION.replace('DEL)\n', 'DEL)\n  echo "DEL $CNI_CONTAINERID"\n')
    expect(echo).not.toBe(SOLUTION)
    const report = await check(workspace('del-echo', echo), 'del')
    const idem = report.checks.find((c) => c.id === 'cni.del.idempotent')
    expect(idem?.status, JSON.stringify(idem, null, 1)).toBe('pass')
    expect(idem!.message).toMatch(
      /DEL with CNI_NETNS empty: ok\. Note: DEL of plugin "ebpfcni" printed "DEL ebpfcni-check-idem[^"]*" on stdout: allowed \(SPEC §DEL names no output\), and no runtime sees it \(libcni discards DEL's stdout\); log lines belong on stderr/,
    )
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  }, 120_000)

  for (const m of LAB1_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step}) with a helpful message`, async () => {
      expect(SOLUTION.includes(m.find), `the mutant's anchor is no longer in the solution: ${m.find}`).toBe(true)
      if (m.bridgeBefore) await execa('ip', ['link', 'add', bridge, 'type', 'bridge'])
      const report = await check(workspace(m.name, SOLUTION.replace(m.find, m.replace)), m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(
        target?.status,
        JSON.stringify(
          report.checks.filter((c) => c.status !== 'pass'),
          null,
          1,
        ),
      ).toBe('fail')
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      if (m.message) {
        // The first failing check, in the order the step runs them, names the cause the mutant made.
        expect(report.checks.find((c) => c.status === 'fail')?.id).toBe(m.failsCheck)
        expect(`${target!.message} ${target!.hint}`).toMatch(m.message)
        // One cause, said once.
        expect(target!.message.match(/stdout has text before the JSON/g)?.length ?? 0).toBeLessThanOrEqual(1)
      }
      for (const o of m.others ?? []) {
        const c = report.checks.find((x) => x.id === o.id)
        expect(c?.status, JSON.stringify(c, null, 1)).toBe(o.status)
        if (o.message) expect(`${c!.message} ${c!.hint ?? ''}`).toMatch(o.message)
      }
      expect(report.passed).toBe(false)
      await deleteLinkQuietly(bridge)
      const now = await hostSnapshot()
      expect(now, `mutant ${m.name} left host objects`).toEqual(before)
    }, 120_000)
  }
})
