import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {writeFileSync, mkdirSync, readFileSync, chmodSync} from 'node:fs'
import {join} from 'node:path'
import {runConform} from '../../src/conform/conform.js'
import {Ledger} from '../../src/host/ledger.js'
import {tempStateDir, repoRoot, requireRoot, uniq} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'
import {LAB1_MUTANTS} from '../../labs/01-bridge-cni/test/mutants.js'

const FIXTURES = join(repoRoot, 'test/fixtures/plugins')

describe('ebpfcni conform: spec-level checks against any plugin', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridges = [`cr${id}`, `cs${id}`]
  let before: Awaited<ReturnType<typeof hostSnapshot>>
  const conf = (name: string, body: object): string => {
    const f = join(t.dir, name)
    writeFileSync(f, JSON.stringify(body))
    return f
  }
  const withoutBridges = async () => {
    for (const b of bridges) await deleteLinkQuietly(b)
    return hostSnapshot()
  }

  beforeAll(async () => {
    requireRoot()
    process.env.EBPFCNI_STATE_DIR = t.dir
    before = await hostSnapshot()
  })
  afterAll(async () => {
    for (const b of bridges) await deleteLinkQuietly(b)
    delete process.env.EBPFCNI_STATE_DIR
    t.cleanup()
  })

  it("Debian's bridge + host-local conflist conforms on every check and leaves no netns", async () => {
    const f = conf('ref.conflist', {
      cniVersion: '1.0.0',
      name: `cref${id}`,
      plugins: [
        {
          type: 'bridge',
          bridge: bridges[0],
          isGateway: true,
          ipMasq: false,
          ipam: {type: 'host-local', ranges: [[{subnet: '10.236.1.0/24'}]], dataDir: join(t.dir, 'ipam')},
        },
      ],
    })
    const r = await runConform({configFile: f, cniPath: ['/usr/lib/cni'], timeoutMs: 5000})
    expect(
      r.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(r.checks, null, 1),
    ).toEqual([])
    expect(r.checks.map((c) => c.id)).toEqual([
      'spec.version',
      'spec.errors',
      'spec.add.result',
      'spec.add.state',
      'spec.check',
      'spec.del',
      'spec.del.idempotent',
      'spec.concurrency',
    ])
    expect(r.passed).toBe(true)
    expect(await withoutBridges()).toEqual(before)
    expect(new Ledger().entries()).toEqual([])
  })

  const solutionDir = join(t.dir, 'sol')
  const installSolution = (text: string): string => {
    mkdirSync(solutionDir, {recursive: true})
    writeFileSync(join(solutionDir, 'ebpfcni'), text)
    chmodSync(join(solutionDir, 'ebpfcni'), 0o755)
    return conf('sol.conf', {
      cniVersion: '1.0.0',
      name: `csol${id}`,
      type: 'ebpfcni',
      podcidr: '10.236.2.0/24',
      bridge: bridges[1],
      dataDir: join(t.dir, 'sol-ipam'),
    })
  }
  const solution = readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')

  it('the lab 1 reference solution conforms too', async () => {
    const r = await runConform({configFile: installSolution(solution), cniPath: [solutionDir], timeoutMs: 5000})
    expect(
      r.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(r.checks, null, 1),
    ).toEqual([])
    expect(await withoutBridges()).toEqual(before)
  })

  const cases: Array<[string, () => string, string[], string, RegExp]> = [
    [
      'a result whose interface index points past the list',
      () => conf('oor.conf', {cniVersion: '1.0.0', name: 'c', type: 'iface-out-of-range'}),
      [FIXTURES],
      'spec.add.result',
      /^SPEC §Success \(result types\): .*ips\[0\]\.interface is 2/,
    ],
    [
      "a plugin that does not support the config's version",
      () => conf('wv.conf', {cniVersion: '1.0.0', name: 'c', type: 'wrong-version'}),
      [FIXTURES],
      'spec.version',
      /^SPEC §VERSION: plugin "wrong-version" supports 0\.3\.0, 0\.3\.1/,
    ],
    [
      'a plugin that fails without error JSON',
      () => conf('nj.conf', {cniVersion: '1.0.0', name: 'c', type: 'exit-no-json'}),
      [FIXTURES],
      'spec.errors',
      // The three ADDs failed alike: one cause, said once for them.
      /^SPEC §Error: ADD without CNI_CONTAINERID, .* \(3 calls\): ADD of plugin "exit-no-json" exited \d+ with no error JSON/,
    ],
    [
      'a DEL that fails once the netns is gone',
      () =>
        installSolution(
          solution.replace(
            LAB1_MUTANTS.find((m) => m.name === 'DEL fails when the netns is gone')!.find,
            LAB1_MUTANTS.find((m) => m.name === 'DEL fails when the netns is gone')!.replace,
          ),
        ),
      [solutionDir],
      'spec.del.idempotent',
      /^SPEC §DEL: DEL after the netns was deleted failed/,
    ],
  ]
  for (const [what, makeConf, cniPath, checkId, message] of cases) {
    it(`${what} fails ${checkId}, naming the spec section`, async () => {
      const r = await runConform({configFile: makeConf(), cniPath, timeoutMs: 3000})
      const c = r.checks.find((x) => x.id === checkId)
      expect(c?.status, JSON.stringify(r.checks, null, 1)).toBe('fail')
      expect(c!.message).toMatch(message)
      expect(r.passed).toBe(false)
      expect(await withoutBridges()).toEqual(before)
    })
  }
})
