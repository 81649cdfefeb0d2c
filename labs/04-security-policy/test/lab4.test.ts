import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {existsSync, readFileSync} from 'node:fs'
import {CriClient} from '#pods/cri/client.js'
import {containerdSocket} from '#pods/cri/daemon.js'
import {join} from 'node:path'
import {runCheck} from '#checks/engine.js'
import {getLab} from '#engine/catalogue.js'
import {lab4Context} from '../context.js'
import {LAB4_CHECKS} from '../checks/index.js'
import {PolicyController} from '#policy/controller.js'
import type {PolicyService} from '#policy/service.js'
import {PolicyMaps} from '#policy/maps.js'
import {closeFd} from '#bpf/ffi.js'
import {mapInfo, mapUpdate, valueBufferSize} from '#bpf/map-ops.js'
import {objGet} from '#bpf/object.js'
import {emptyDesired} from '#policy/resolve.js'
import {cliRunner, repoRoot} from '#test/helpers/env.js'
import {labHarness} from '#test/helpers/lab-harness.js'
import {applyEdits} from '#test/helpers/mutants.js'
import {LAB4_MUTANTS} from './mutants.js'

const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8')
const PLUGIN = read('labs/02-ebpf-basics/solution/ebpfcni')
const PROGRAMS = {
  deny: read('labs/04-security-policy/solution/deny/ebpfcni.bpf.c'),
  networkpolicy: read('labs/04-security-policy/solution/networkpolicy/ebpfcni.bpf.c'),
  conntrack: read('labs/04-security-policy/solution/conntrack/ebpfcni.bpf.c'),
  spoofing: read('labs/04-security-policy/solution/spoofing/ebpfcni.bpf.c'),
  identity: read('labs/04-security-policy/solution/identity/ebpfcni.bpf.c'),
}

/** A controller that syncs once at start and never again: it does not follow pods. */
class StaticController extends PolicyController {
  constructor(private readonly svc: PolicyService) {
    super(svc)
  }
  async start(): Promise<void> {
    await this.svc.sync()
  }
  async idle(): Promise<void> {}
  stop(): void {}
}

describe("lab 4 checks: each step's reference passes, every mutant fails with the right check", () => {
  const h = labHarness(4, {tag: 'l4', subnet: '10.249.0.0/24'})
  const {targets, pinDir, ledger} = h
  const workspace = (name: string, program: string) => h.workspace(name, {'ebpfcni.bpf.c': program, ebpfcni: PLUGIN})
  const check = h.check
  const cli = cliRunner({EBPFCNI_STATE_DIR: h.t.dir, CI: 'true'}, 30_000)
  const settle = () => h.settle()
  const passing = (r: Awaited<ReturnType<typeof check>>) =>
    expect(
      r.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(r.checks, null, 1),
    ).toEqual([])

  beforeAll(() => h.setup())
  afterAll(() => h.teardown())

  it('the identity reference passes every lab 4 check and leaves nothing', async () => {
    const report = await check(workspace('solution', PROGRAMS.identity))
    passing(report)
    expect(report.checks.map((c) => c.id).sort()).toEqual([...new Set(getLab(4).steps.flatMap((s) => s.checks))].sort())
    // The run's pods are gone, and so are their counts: metrics lists no source without a pod (pod="").
    const counter = JSON.parse((await cli(['bpf', 'maps', join(pinDir, 'counter'), '--json'])).stdout) as {
      entries: Array<{key: string}>
    }
    expect(counter.entries.map((e) => e.key)).toEqual([])
    const scrape = await cli(['metrics', '--once', '--map', join(pinDir, 'counter')])
    expect(scrape.exitCode, scrape.stdout).toBe(1)
    expect(scrape.stderr).toMatch(/nothing to export/)
    // A count that was there before a run is the learner's: after another run it stays, and only it.
    const fd = objGet(join(pinDir, 'counter'))
    const mine = Buffer.alloc(valueBufferSize(mapInfo(fd)))
    mine.writeBigUInt64LE(42n)
    mapUpdate(fd, Buffer.from([10, 99, 0, 5]), mine)
    closeFd(fd)
    passing(await check(workspace('solution', PROGRAMS.identity), 'deny'))
    const after = JSON.parse((await cli(['bpf', 'maps', join(pinDir, 'counter'), '--json'])).stdout) as {
      entries: Array<{key: string; value: string}>
    }
    expect(after.entries).toEqual([
      expect.objectContaining({key: '10.99.0.5', value: expect.stringMatching(/^42 \(per CPU: 42( \+ 0)*\)$/)}),
    ])
    await settle()
    expect(await h.snapshot()).toEqual(h.before())
  }, 180_000)

  it('with --runtime cri the traffic checks run on CRI pods: sandboxes containerd made, labelled as the policy selects', async () => {
    const seen: string[] = []
    const r = await check(workspace('identity-cri', PROGRAMS.identity), undefined, 'cri', (id, _title, result) => {
      if (id !== 'policy.networkpolicy' || !result) return
      // Mid-run: the httpbin and sleep pods are CRI sandboxes of ebpfcni's containerd.
      const client = new CriClient(containerdSocket())
      void client
        .listPodSandbox()
        .then((items) => seen.push(...items.map((s) => s.labels.app ?? '?')))
        .finally(() => client.close())
    })
    passing(r)
    await new Promise((res) => setTimeout(res, 200))
    expect(seen.sort()).toEqual(expect.arrayContaining(['httpbin', 'sleep']))
    await settle()
    expect(existsSync(join(h.t.dir, 'containerd')), 'the containerd this run started is gone with its state').toBe(
      false,
    )
    expect(await h.snapshot()).toEqual(h.before())
  }, 180_000)

  it('the step 1, 2 and 3 references pass their steps, and the steps before', async () => {
    passing(await check(workspace('deny', PROGRAMS.deny), 'deny'))
    await settle()
    const np = workspace('np', PROGRAMS.networkpolicy)
    passing(await check(np, 'deny'))
    passing(await check(np, 'networkpolicy'))
    await settle()
    const sp = workspace('sp', PROGRAMS.spoofing)
    passing(await check(sp, 'networkpolicy'))
    passing(await check(sp, 'spoofing'))
    await settle()
  }, 240_000)

  it("step 2's reference does not validate sources: policy.source-validation fails on it, naming the spoofed datagrams", async () => {
    const r = await check(workspace('np-spoof', PROGRAMS.networkpolicy), 'spoofing')
    const sv = r.checks.find((c) => c.id === 'policy.source-validation')
    expect(sv?.status, JSON.stringify(r.checks, null, 1)).toBe('fail')
    expect(sv!.message).toMatch(/has no endpoints map/)
    await settle()
  }, 120_000)

  it("the learner's own rules survive a check run", async () => {
    const dir = workspace('keep', PROGRAMS.networkpolicy)
    await check(dir, 'deny')
    const maps = PolicyMaps.open(pinDir)
    maps.sync({
      ...emptyDesired('ip-pair'),
      pairs: new Map([['10.9.9.1>10.9.9.2', 1]]),
      portPairs: new Map([['10.9.9.1>10.9.9.2>tcp/80', 2]]),
      isolated: new Set(['10.9.9.2']),
    })
    maps.close()
    await check(dir, 'networkpolicy')
    const after = PolicyMaps.open(pinDir)
    const cur = after.read()
    after.close()
    expect([...cur.pairs]).toEqual([['10.9.9.1>10.9.9.2', 1]])
    expect([...cur.isolated]).toEqual(['10.9.9.2'])
    expect([...cur.portPairs]).toEqual([['10.9.9.1>10.9.9.2>tcp/80', 2]])
    await settle()
  }, 120_000)

  for (const m of LAB4_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step})`, async () => {
      const report = await check(workspace(m.name, applyEdits(PROGRAMS[m.base], m.edits)), m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      // The first check to fail is the one for this mistake: an earlier one would send the learner elsewhere.
      expect(report.checks.find((c) => c.status === 'fail')?.id, JSON.stringify(report.checks, null, 1)).toBe(
        m.firstFails ?? m.failsCheck,
      )
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.hint).toBeTruthy()
      if (m.message) expect(target!.message).toMatch(m.message)
      if (m.hint) expect(target!.hint).toMatch(m.hint)
      // The first failing check names this cause (when it is another check than the mistake's own).
      const failed = report.checks.filter((c) => c.status === 'fail')
      if (m.firstSays) expect(`${failed[0].message}\n${failed[0].hint}`).toMatch(m.firstSays)
      // Later failing checks say it follows from the same cause; none blames another.
      if (m.laterFail) expect(failed.map((c) => c.id)).toEqual(expect.arrayContaining(m.laterFail))
      if (m.laterSay)
        for (const c of failed.slice(1))
          expect(`${c.message}\n${c.hint}`, `${c.id} blames another cause`).toMatch(m.laterSay)
      await settle()
      expect(await h.snapshot(), `mutant ${m.name} left host objects`).toEqual(h.before())
    }, 120_000)
  }

  it('mutant "policy not following new pods" (a controller that syncs once) fails policy.follows-pods', async () => {
    const dir = workspace('static-controller', PROGRAMS.networkpolicy)
    await check(dir, 'deny') // installs the plugin and loads the program
    const ctx = lab4Context({
      cniBinDir: targets.cniBinDir,
      configFile: join(targets.cniConfDir, '10-ebpfcni.conf'),
      runtime: 'netns',
      ledger: ledger(),
      timeoutMs: 3000,
      workspace: dir,
      lab: 4,
      controller: (svc) => new StaticController(svc),
    })
    try {
      const result = await runCheck(
        LAB4_CHECKS.find((c) => c.id === 'policy.follows-pods')!,
        ctx,
      )
      expect(result.status, JSON.stringify(result)).toBe('fail')
      expect(result.message).toMatch(/new app=sleep pod .* could not reach httpbin/)
    } finally {
      await ctx.cleanup()
    }
    await settle()
    expect(await h.snapshot()).toEqual(h.before())
  }, 120_000)
})
