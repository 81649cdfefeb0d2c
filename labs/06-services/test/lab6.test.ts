import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {runCheck} from '#checks/engine.js'
import {getLab} from '#engine/catalogue.js'
import {execa} from 'execa'
import {cliBin, cliRunner, repoRoot} from '#test/helpers/env.js'
import {buildBpf} from '#bpf/build.js'
import {BpfObject} from '#bpf/object.js'
import {observeDir} from '#observe/ring-owner.js'
import type {Flow} from '#observe/flow-names.js'
import {labHarness} from '#test/helpers/lab-harness.js'
import {applyEdits} from '#test/helpers/mutants.js'
import {lab6Context} from '../context.js'
import {cgroup2Root, CGROUP_PREFIX} from '../cgroups.js'
import {LAB6_CHECKS} from '../checks/index.js'
import {LAB6_MUTANTS} from './mutants.js'

const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8')
const PLUGIN = read('labs/01-bridge-cni/solution/ebpfcni')
const PROGRAM = read('labs/06-services/solution/services.bpf.c')
const STARTER = read('labs/06-services/starter/services.bpf.c')
const AGENT = read('labs/06-services/solution/agent.mjs')
/** services.bpf.c as the last step that changes it leaves it (step 3's: connect4 and the other hooks). */
const FINAL = read('labs/06-services/solution/peer-and-udp/services.bpf.c')
const MAGLEV = read('labs/06-services/solution/maglev.bpf.c')
const MAGLEV_STARTER = read('labs/06-services/starter/maglev.bpf.c')
const runCgroups = (): string[] => readdirSync(cgroup2Root()!).filter((n) => n.startsWith(CGROUP_PREFIX))

describe('lab 6 checks: the reference passes, every mutant fails with the right check', () => {
  const h = labHarness(6, {tag: 'l6', subnet: '10.248.6.0/24'})
  const workspace = (name: string, program: string, maglev = MAGLEV, agent = AGENT) =>
    h.workspace(name, {'services.bpf.c': program, 'maglev.bpf.c': maglev, 'agent.mjs': agent, ebpfcni: PLUGIN})
  const clean = async () => {
    await h.settle()
    expect(await h.snapshot()).toEqual(h.before())
    expect(runCgroups(), 'cgroups left').toEqual([])
  }

  beforeAll(() => h.setup())
  afterAll(() => h.teardown())

  it('the reference passes every lab 6 check, and leaves no pod, link or cgroup', async () => {
    const report = await h.check(workspace('solution', FINAL))
    expect(
      report.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(report.checks, null, 1),
    ).toEqual([])
    expect(report.checks.map((c) => c.id).sort()).toEqual([...new Set(getLab(6).steps.flatMap((s) => s.checks))].sort())
    const spread = report.checks.find((c) => c.id === 'services.spread')!
    expect(spread.message).toMatch(/all 300 requests to 10\.96\.6\.10:80 answered: web-1 \d+, web-2 \d+, web-3 \d+/)
    expect(report.checks.find((c) => c.id === 'services.not-on-wire')!.message).toMatch(
      /^0 packets addressed to 10\.96\.6\.10; all \d+ SYNs/,
    )
    // Step 4's figure: the reference's Maglev lookup beside hash % N on the same 10,000 flows.
    expect(report.checks.find((c) => c.id === 'maglev.remap')!.message).toMatch(
      /remapped [\d,]+ of 10,000 flows through your lookup \((1\d|2[0-4])\.\d%; .*hash % N on the same flows: [\d,]+ \((7\d|8\d)\.\d%\)/,
    )
    await clean()
  }, 120_000)

  it('the starter (connect4 still a TODO) fails services.spread: the requests left for the VIP, and were counted', async () => {
    const report = await h.check(workspace('starter', STARTER), 'socket-lb')
    const spread = report.checks.find((c) => c.id === 'services.spread')!
    expect(spread.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
    expect(spread.message).toMatch(/packets left the client still addressed to the VIP 10\.96\.6\.10/)
    await clean()
  }, 120_000)

  it('the Maglev starter (maglev_backend() still a TODO) fails maglev.spread and maglev.remap: no backend, the VIP kept', async () => {
    const report = await h.check(workspace('maglev-starter', PROGRAM, MAGLEV_STARTER), 'maglev')
    const byId = (id: string) => report.checks.find((c) => c.id === id)!
    expect(byId('maglev.loads').status, JSON.stringify(report.checks, null, 1)).toBe('pass')
    expect(byId('maglev.spread').status).toBe('fail')
    expect(byId('maglev.spread').message).toMatch(/\d+ packets left the client addressed to the VIP/)
    expect(byId('maglev.spread').hint).toMatch(/maglev_backend\(\) returned NULL/)
    expect(byId('maglev.remap').status).toBe('fail')
    expect(byId('maglev.remap').message).toMatch(/gave 10000 of 10000 flows no backend/)
    await clean()
  }, 120_000)

  for (const m of LAB6_MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck}`, async () => {
      const base = m.step === 'peer-and-udp' ? FINAL : PROGRAM
      const dir =
        m.file === 'maglev.bpf.c'
          ? workspace(m.name, PROGRAM, applyEdits(MAGLEV, m.edits))
          : m.file === 'agent.mjs'
            ? workspace(m.name, PROGRAM, MAGLEV, applyEdits(AGENT, m.edits))
            : workspace(m.name, applyEdits(base, m.edits))
      const report = await h.check(dir, m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      expect(target!.message).not.toMatch(/the check itself hit an error/)
      expect(target!.message).toMatch(m.message)
      expect(target!.hint).toMatch(m.hint)
      if (m.failsCheck === 'maglev.remap') {
        // This mutant is hash % N itself: the same figure twice proves the check's TypeScript flow
        // hash (the side-by-side figure) is the program's.
        const [, mine, modN] = /remapped ([\d,]+) of .* hash % N on the same flows: ([\d,]+)/.exec(target!.message)!
        expect(mine).toBe(modN)
      }
      await clean()
    }, 120_000)
  }

  it('mutant "program attached to the wrong cgroup" (the run\'s, above the pods\') fails services.scope', async () => {
    const dir = workspace('wrong-cgroup', PROGRAM)
    await h.check(dir, 'socket-lb') // installs the plugin and config
    const ctx = lab6Context({
      cniBinDir: h.targets.cniBinDir,
      configFile: join(h.targets.cniConfDir, '10-ebpfcni.conf'),
      runtime: 'netns',
      ledger: h.ledger(),
      timeoutMs: 3000,
      workspace: dir,
      pinDir: h.pinDir,
      lab: 6,
      attachAt: 'parent',
    })
    try {
      const result = await runCheck(
        LAB6_CHECKS.find((c) => c.id === 'services.scope')!,
        ctx,
      )
      expect(result.status, JSON.stringify(result)).toBe('fail')
      expect(result.message).toMatch(/were answered by a backend: connect4 is attached to /)
      expect(result.hint).toMatch(/runs for every cgroup under it/)
    } finally {
      await ctx.cleanup()
    }
    await clean()
  }, 120_000)

  it('observe --json through bin/run.js shows each translation of a check run: VIP:80 => a backend, the socket of pod client', async () => {
    // The ring pinned first, as lab 4's program leaves it: observe reads it, the check reuses it.
    const built = await buildBpf(join(repoRoot, 'labs/06-services/solution/services.bpf.c'), join(h.t.dir, 'ring.o'))
    expect(built.ok).toBe(true)
    const holder = BpfObject.open(built.object, {pinRoot: h.pinDir})
    expect(holder.load().ok).toBe(true)
    const observe = execa(
      'node',
      // --checks: the translations are the check's own pods' (hidden without it).
      [cliBin, 'observe', '--pin-dir', h.pinDir, '--follow', '--json', '--verdict', 'translated', '--checks'],
      {reject: false, env: {EBPFCNI_STATE_DIR: h.t.dir}, stdin: 'ignore', timeout: 120_000},
    )
    const lines: string[] = []
    observe.stdout?.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)))
    try {
      const owner = join(observeDir(h.pinDir), 'owner.json')
      for (const end = Date.now() + 20_000; !existsSync(owner); await new Promise((r) => setTimeout(r, 50)))
        if (Date.now() > end) throw new Error('observe never took the ring')
      const report = await h.check(workspace('observed', PROGRAM), 'socket-lb')
      const translations = report.checks.find((c) => c.id === 'services.translations')!
      expect(translations.status, JSON.stringify(translations)).toBe('pass')
      const backends = new Set([...translations.message!.matchAll(/([\d.]+):80 × \d+/g)].map((m) => m[1]))
      expect(backends.size).toBe(3)
      const seen = () =>
        lines
          .map((l) => JSON.parse(l) as Flow)
          .filter((f) => f.verdict === 'TRANSLATED' && f.socket?.pod === 'client' && f.src.ip === '10.96.6.10')
      for (const end = Date.now() + 10_000; seen().length < 300; await new Promise((r) => setTimeout(r, 50)))
        if (Date.now() > end) throw new Error(`observe printed ${seen().length} of 300 translations`)
      expect(seen().every((f) => f.src.port === 80 && backends.has(f.dst.ip) && f.dst.port === 80)).toBe(true)
      expect(seen()[0]).toMatchObject({program: 'connect4', reason: 'service', proto: 'TCP'})
    } finally {
      observe.kill('SIGINT')
      await observe
      holder.close()
    }
    expect((await observe).exitCode).toBe(130)
    await clean()
  }, 180_000)

  it("a broken program fails services.loads with the compiler's words, through the CLI", async () => {
    const dir = workspace('broken', PROGRAM.replace('return 1;\n}', 'return 1\n}'))
    const cli = cliRunner(
      {
        EBPFCNI_STATE_DIR: h.t.dir,
        EBPFCNI_CNI_BIN_DIR: h.targets.cniBinDir,
        EBPFCNI_CNI_CONF_DIR: h.targets.cniConfDir,
        CI: 'true',
      },
      60_000,
    )
    const r = await cli(['check', '6', '--step', 'socket-lb', '--json', '--workspace', dir])
    expect(r.exitCode, r.stderr).toBe(1)
    const loads = (JSON.parse(r.stdout) as {checks: Array<{id: string; status: string; message: string}>}).checks.find(
      (c) => c.id === 'services.loads',
    )!
    expect(loads.status).toBe('fail')
    expect(loads.message).toMatch(/services\.bpf\.c does not compile: line \d+/)
    expect(existsSync(join(dir, 'services.bpf.c'))).toBe(true)
    await clean()
  }, 120_000)
})
