import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {copyFileSync, chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, cliBin, repoRoot, requireBuilt, requireRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import {nodeBinDir} from '../helpers/lab-harness.js'
import {loadLabs} from '../../src/labs/catalogue.js'

// The CLI behaves like the tools its users know: one meaning per flag, --json everywhere (parsed
// here), errors that blame the right thing with the right exit code, NO_COLOR, and a reset that
// leaves the learner's progress alone unless asked.

// eslint-disable-next-line no-control-regex -- an ANSI escape is what the test looks for
const ESC = /\u001b\[/

describe('CLI conventions', () => {
  const t = tempStateDir()
  const id = uniq()
  const ws = join(t.dir, 'ws')
  const bin = join(t.dir, 'bin')
  const netd = join(t.dir, 'net.d')
  const env = {
    EBPFCNI_STATE_DIR: join(t.dir, 'state'),
    EBPFCNI_WORKSPACE: ws,
    EBPFCNI_CNI_BIN_DIR: bin,
    EBPFCNI_CNI_CONF_DIR: netd,
    CI: 'true',
  }
  const cli = cliRunner(env)
  const json = <T = Record<string, unknown>>(r: {stdout: string}): T => JSON.parse(r.stdout) as T
  const conf = join(t.dir, 'pod.conf')
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    nodeBinDir(bin)
    mkdirSync(ws, {recursive: true})
    copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), join(ws, 'ebpfcni'))
    chmodSync(join(ws, 'ebpfcni'), 0o755)
    writeFileSync(
      join(ws, '10-ebpfcni.conf'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `conv${id}`,
        type: 'ebpfcni',
        podcidr: '10.243.0.0/24',
        bridge: `cv${id}`,
        dataDir: join(t.dir, 'ipam'),
      }),
    )
    writeFileSync(conf, readFileSync(join(ws, '10-ebpfcni.conf')))
    copyFileSync(join(ws, 'ebpfcni'), join(bin, 'ebpfcni'))
    chmodSync(join(bin, 'ebpfcni'), 0o755)
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--progress', '--yes'])
    await deleteLinkQuietly(`cv${id}`)
    t.cleanup()
  })

  it('-h is help; usage errors exit 2: flags that need another, an old short flag, a typo', async () => {
    const h = await cli(['check', '-h'])
    expect(h.exitCode).toBe(0)
    expect(h.stdout).toMatch(/USAGE\n\s+\$ ebpfcni check LAB/)
    expect((await cli(['pod', 'exec', '--help'])).stdout).toMatch(/\$ ebpfcni pod exec NAME -- CMD\.\.\./)
    const lonely = await cli(['lab', '1', '--json'])
    expect(lonely.exitCode).toBe(2)
    expect(lonely.stderr).toMatch(/--auto/)
    expect((await cli(['metrics', '-w'])).exitCode).toBe(2)
    // Walked: oclif's "Missing 1 required arg:\nlab  Lab number …" (once as "Error:"): ours, with an example.
    for (const command of ['hint', 'check']) {
      const noLab = await cli([command])
      expect([noLab.exitCode, ...noLab.stderr.split('\n').slice(0, 2)]).toEqual([
        2,
        `error: ebpfcni ${command} needs LAB: lab number (see \`ebpfcni lab\` for the list)`,
        `hint: for example: ebpfcni ${command} 1 (ebpfcni ${command} --help)`,
      ])
    }
    const typo = await cli(['chek', '1'])
    expect(typo.exitCode).toBe(2)
    expect(typo.stderr).toMatch(/Did you mean: ebpfcni check\?/)
  })

  it('--json output parses, for every kind of report; errors too', async () => {
    const check = json<{lab: number; step: string; passed: boolean; checks: Array<{id: string; status: string}>}>(
      await cli(['check', '1', '--step', 'skeleton', '--json']),
    )
    expect(check).toMatchObject({lab: 1, step: 'skeleton', passed: true})
    expect(check.checks.map((c) => c.id)).toEqual(['plugin.present', 'config.valid', 'cni.version', 'cni.errors'])
    expect(
      json<{labs: Array<{lab: number; steps: Array<{id: string; done: boolean}>}>}>(await cli(['status', '--json']))
        .labs[0].steps[0],
    ).toMatchObject({id: 'skeleton', done: true})
    expect(json(await cli(['hint', '1', '--step', 'add', '--json']))).toMatchObject({lab: 1, step: 'add', shown: 1})
    expect(json(await cli(['solution', '1', '--step', 'skeleton', '--json']))).toMatchObject({
      lab: 1,
      step: 'skeleton',
      applied: false,
    })
    expect(json(await cli(['doctor', '--json']))).toHaveProperty('items')
    expect(json(await cli(['reset', '--dry-run', '--json']))).toMatchObject({dryRun: true, scope: 'all labs'})
    expect(Array.isArray(json(await cli(['bpf', 'progs', '--json'])))).toBe(true)
    expect(Array.isArray(json(await cli(['pod', 'list', '--json'])))).toBe(true)
    const err = await cli(['check', '9', '--json'])
    expect(err.exitCode).toBe(2)
    expect(json(err)).toEqual({
      error: {
        message: 'there is no lab "9"',
        hint: `the labs are ${loadLabs()
          .map((l) => l.id)
          .join(', ')} (ebpfcni lab lists them)`,
        kind: 'user',
        exitCode: 2,
      },
    })
  })

  it('NO_COLOR and --no-color: no escape codes, even where colour is forced', async () => {
    expect((await cli(['status'], {FORCE_COLOR: '1'})).stdout).toMatch(ESC)
    expect((await cli(['status'], {FORCE_COLOR: '1', NO_COLOR: '1'})).stdout).not.toMatch(ESC)
    expect((await cli(['status', '--no-color'], {FORCE_COLOR: '1'})).stdout).not.toMatch(ESC)
    const err = await cli(['check', '9', '--no-color'], {FORCE_COLOR: '1'})
    expect(err.stderr).toMatch(/^error: there is no lab/)
  })

  it("an unknown flag before a value is named, not its value taken for LAB ('reset --workspace X')", async () => {
    for (const flag of ['--workspace', '-w']) {
      const r = await cli(['reset', flag, '/tmp/x', '--dry-run'])
      expect(r.exitCode).toBe(2)
      // (under vitest, NODE_ENV=test: oclif adds a warning line after a parse error)
      expect(r.stderr.split('\n').slice(0, 2)).toEqual([
        `error: ebpfcni reset has no flag ${flag}`,
        'hint: its flags are --lab, --all, --progress, --yes, --dry-run (ebpfcni reset --help)',
      ])
    }
    // A known flag before a wrong lab, and a command that has the flag, keep their own answers.
    expect((await cli(['reset', '--yes', '9'])).stderr).toMatch(/^error: there is no lab "9"/)
    // --lab, reset's flag for LAB, is checked as LAB is (it said "Nothing to remove for lab 9", exit 0).
    const flagLab = await cli(['reset', '--lab', '9', '--dry-run'])
    expect([flagLab.exitCode, flagLab.stderr.split('\n')[0]]).toEqual([2, 'error: --lab: there is no lab "9"'])
    expect((await cli(['check', '--workspace', ws, '9'])).stderr).toMatch(/^error: there is no lab "9"/)
  })

  it('a user mistake gets a hint and no stack trace; DEBUG=0 keeps it that way, DEBUG=1 shows it', async () => {
    const quiet = await cli(['check', '1', '--step', 'nope'], {DEBUG: '0'})
    expect(quiet.exitCode).toBe(2)
    expect(quiet.stderr).toMatch(/hint: its steps/)
    expect(quiet.stderr).not.toMatch(/\n\s+at /)
    expect((await cli(['check', '1', '--step', 'nope'], {DEBUG: '1'})).stderr).toMatch(/\n\s+at /)
  })

  it('reset removes host objects and keeps progress; --dry-run says so; --progress forgets it', async () => {
    expect(json<{labs: Array<{stepsDone: number}>}>(await cli(['status', '--json'])).labs[0].stepsDone).toBeGreaterThan(
      0,
    )
    const dry = await cli(['reset', '--dry-run'])
    expect(dry.stdout).toContain(
      `Your progress (lab 1 (1 step(s) done) in ${ws}) stays; add --progress to forget it too`,
    )
    expect((await cli(['reset', '--all', '--yes'])).exitCode).toBe(0)
    expect(json<{labs: Array<{stepsDone: number}>}>(await cli(['status', '--json'])).labs[0].stepsDone).toBeGreaterThan(
      0,
    )
    expect((await cli(['reset', '--dry-run', '--progress'])).stdout).toMatch(/forget progress of lab 1/)
    expect((await cli(['reset', '1', '--progress', '--yes'])).exitCode).toBe(0)
    expect(json<{labs: Array<{stepsDone: number}>}>(await cli(['status', '--json'])).labs[0].stepsDone).toBe(0)
  })

  it('no command reads a piped stdin: a `while read host` loop keeps its lines (oclif reads a missing argument from stdin)', async () => {
    const lines = 'host-a\nhost-b\nhost-c\n'
    // A shell loop over a file: each ebpfcni call inherits the loop's stdin, as `ssh`-less scripts do.
    const loop = await execa(
      'bash',
      ['-c', 'while read -r h; do echo "got $h"; node "$0" reset --all --yes --dry-run >/dev/null; done', cliBin],
      {input: lines, env: {...env}, reject: false, timeout: 120_000},
    )
    expect(loop.stdout.split('\n')).toEqual(['got host-a', 'got host-b', 'got host-c'])
    for (const args of [['reset', '--dry-run'], ['hint', '--json'], ['pod', 'del'], ['status']]) {
      const r = await execa('node', [cliBin, ...args], {input: 'junk\n', env: {...env}, reject: false, timeout: 60_000})
      expect(`${r.stdout}${r.stderr}`, args.join(' ')).not.toMatch(/junk/)
    }
  })

  it('pod add: labels and CNI_ARGS checked with the reason; pod check runs CNI CHECK', async () => {
    const spaced = await cli(['pod', 'add', 'x', '-l', 'app=my app', '--config', conf, '--cni-path', bin])
    expect(spaced.exitCode).toBe(2)
    expect(spaced.stderr).toMatch(/label "app=my app" has characters a Kubernetes label cannot hold\nhint: .*no spaces/)
    expect((await cli(['pod', 'add', 'x', '--args', 'nope', '--config', conf, '--cni-path', bin])).stderr).toMatch(
      /is not K=V;K=V/,
    )
    const added = json<{name: string; ip: string; cniArgs: string}>(
      await cli([
        'pod',
        'add',
        'chk',
        '--workload',
        'sleep',
        '--args',
        'K8S_POD_UID=abc',
        '--config',
        conf,
        '--cni-path',
        bin,
        '--json',
      ]),
    )
    expect(added.cniArgs).toBe('IgnoreUnknown=1;K8S_POD_NAME=chk;K8S_POD_NAMESPACE=default;K8S_POD_UID=abc')
    try {
      const ok = await cli(['pod', 'check', 'chk', '--json'])
      expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0)
      expect(json(ok)).toMatchObject({pod: 'chk', ok: true})
      await execa('ip', ['-n', 'ebpfcni-chk', 'addr', 'flush', 'dev', 'eth0'])
      const broken = await cli(['pod', 'check', 'chk'])
      expect(broken.exitCode).toBe(1)
      expect(broken.stdout).toMatch(/CHECK of pod chk: .*address .* is missing/)
    } finally {
      await cli(['pod', 'del', 'chk'])
    }
  })

  it('pod add says which copy of the plugin ran when the workspace has an edit check has not installed', async () => {
    const same = await cli(['pod', 'add', 'cur', '--config', conf, '--cni-path', bin])
    expect(same.exitCode, same.stderr).toBe(0)
    expect(same.stderr).not.toMatch(/note: this runs/)
    await cli(['pod', 'del', 'cur'])
    const mine = join(ws, 'ebpfcni')
    const original = readFileSync(mine)
    writeFileSync(mine, `${original.toString()}\n# an edit not installed yet\n`)
    try {
      const stale = await cli(['pod', 'add', 'old', '--config', conf, '--cni-path', bin])
      expect(stale.exitCode, stale.stderr).toBe(0)
      expect(stale.stderr).toContain(`note: this runs ${join(bin, 'ebpfcni')}, not your edited ${mine}`)
    } finally {
      writeFileSync(mine, original)
      await cli(['pod', 'del', 'old'])
    }
  })

  it('metrics: --web.listen-address is HOST:PORT; anything else is a usage error', async () => {
    const bad = await cli(['metrics', '--web.listen-address', 'nonsense'])
    expect(bad.exitCode).toBe(2)
    expect(bad.stderr).toMatch(/is not HOST:PORT/)
  })

  it('leaves the host as it found it', async () => {
    await deleteLinkQuietly(`cv${id}`)
    expect(await hostSnapshot()).toEqual(before)
  })
})
