import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireBuilt, requireRoot, uniq, cliRunner} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'
// The registry first: lab modules import each other through it (an import cycle issue 14 removes).
import '../../src/labs/registry.js'
import {lab1Context} from '../../labs/01-bridge-cni/context.js'
import {LAB1_CHECKS} from '../../labs/01-bridge-cni/checks/index.js'
import {runCheck} from '../../src/checks/engine.js'
import {Ledger} from '../../src/host/ledger.js'
import {CriPodSource} from '../../src/policy/pods.js'

// The kubelet's path on one node, for real: ebpfcni's own containerd, CRI gRPC, containerd's CRI
// plugin calling the plugin through libcni. Private state, CNI dirs and subnets throughout.

const SOLUTION = readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')

describe("cri runtime: pods through containerd's CRI plugin", () => {
  const t = tempStateDir()
  const id = uniq()
  const bin = join(t.dir, 'bin')
  const netd = join(t.dir, 'net.d')
  const env = {EBPFCNI_STATE_DIR: join(t.dir, 'state'), CI: 'true'}
  const cli = cliRunner(env, 180_000)
  const containerdRunning = async () =>
    (await execa('pgrep', ['-f', `containerd --config ${join(t.dir, 'state')}`], {reject: false})).stdout.trim() !== ''
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  const plugin = (text: string) => {
    writeFileSync(join(bin, 'ebpfcni'), text)
    chmodSync(join(bin, 'ebpfcni'), 0o755)
  }
  const config = (name: string, raw: Record<string, unknown>) => {
    // Files replaced, never the directory: containerd watches it, as it watches /etc/cni/net.d.
    mkdirSync(netd, {recursive: true})
    for (const f of readdirSync(netd)) rmSync(join(netd, f), {force: true})
    writeFileSync(join(netd, name), JSON.stringify(raw))
    return join(netd, name)
  }
  const learnerConf = () =>
    config('10-ebpfcni.conf', {
      cniVersion: '1.0.0',
      name: `cri${id}`,
      type: 'ebpfcni',
      podcidr: '10.247.0.0/24',
      bridge: `cr${id}`,
      dataDir: join(t.dir, 'ipam'),
    })

  /** runtime.cri alone, on a private install, as `check 1` would run it. */
  const criCheck = async () => {
    const ctx = lab1Context({
      cniBinDir: bin,
      configFile: join(netd, '10-ebpfcni.conf'),
      runtime: 'cri',
      ledger: new Ledger(join(t.dir, 'state/ledger.json')),
      timeoutMs: 10_000,
      lab: 1,
    })
    try {
      return await runCheck(
        LAB1_CHECKS.find((c) => c.id === 'runtime.cri')!,
        ctx,
      )
    } finally {
      await ctx.cleanup()
    }
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    if ((await execa('containerd', ['--version'], {reject: false})).exitCode !== 0)
      throw new Error('containerd is missing: apt-get install containerd (scripts/setup.sh installs it)')
    mkdirSync(bin, {recursive: true})
    // A node's CNI bin dir has loopback: containerd runs it for every pod.
    symlinkSync('/usr/lib/cni/loopback', join(bin, 'loopback'))
    process.env.EBPFCNI_STATE_DIR = env.EBPFCNI_STATE_DIR
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    await deleteLinkQuietly(`cr${id}`)
    await deleteLinkQuietly(`cb${id}`)
    delete process.env.EBPFCNI_STATE_DIR
    t.cleanup()
  })

  it('Pending -> Running: with no plugin the sandbox fails as kubectl describe pod shows it; once installed, the pod runs', async () => {
    const conf = learnerConf()
    const pending = await cli(['pod', 'add', 'web', '--runtime', 'cri', '--config', conf, '--cni-path', bin])
    expect(pending.exitCode).not.toBe(0)
    expect(pending.stderr).toMatch(
      /Failed to create pod sandbox: .*plugin type="ebpfcni".* failed \(add\): failed to find plugin "ebpfcni"/,
    )
    expect(pending.stderr).not.toMatch(/at .*\.js:\d+/) // a message, not a stack
    plugin(SOLUTION)
    const running = await cli([
      'pod',
      'add',
      'web',
      '--runtime',
      'cri',
      '--config',
      conf,
      '--cni-path',
      bin,
      '--label',
      'app=httpbin',
    ])
    expect(running.exitCode, running.stderr).toBe(0)
    expect(running.stdout).toMatch(/pod web \(cri\) ip 10\.247\.0\.\d+/)
    const list = JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{
      name: string
      runtime: string
      ip: string
      labels: Record<string, string>
    }>
    expect(list).toEqual([expect.objectContaining({name: 'web', runtime: 'cri', labels: {app: 'httpbin'}})])
    expect(list[0].ip).toMatch(/^10\.247\.0\.\d+$/)
    const other = await cli([
      'pod',
      'add',
      'client',
      '--runtime',
      'cri',
      '--workload',
      'sleep',
      '--config',
      conf,
      '--cni-path',
      bin,
    ])
    expect(other.exitCode, other.stderr).toBe(0)
    const probe = await cli(['pod', 'probe', 'client', 'web'])
    expect(probe.exitCode, probe.stdout + probe.stderr).toBe(0)
    for (const p of ['web', 'client']) expect((await cli(['pod', 'del', p])).exitCode).toBe(0)
    expect(JSON.parse((await cli(['pod', 'list', '--json'])).stdout)).toEqual([])
    // Stop/remove left no veth on the bridge and no netns mount in containerd's state.
    const ports = (await execa('ip', ['-j', 'link', 'show', 'master', `cr${id}`], {reject: false})).stdout
    expect(JSON.parse(ports || '[]')).toEqual([])
    const netnsDir = join(t.dir, 'state/containerd/state/io.containerd.grpc.v1.cri/netns')
    expect(existsSync(netnsDir) ? readFileSync('/proc/self/mounts', 'utf8').includes(netnsDir) : false).toBe(false)
  }, 180_000)

  it("lab 4's controller can take pods and labels from CRI ListPodSandbox, and hears a new pod", async () => {
    const conf = learnerConf()
    plugin(SOLUTION)
    expect(
      (
        await cli([
          'pod',
          'add',
          'hb',
          '--runtime',
          'cri',
          '--config',
          conf,
          '--cni-path',
          bin,
          '--label',
          'app=httpbin',
        ])
      ).exitCode,
    ).toBe(0)
    const source = new CriPodSource(join(t.dir, 'state/containerd/containerd.sock'), 200)
    try {
      expect(await source.refresh()).toBe(true)
      expect(source.list()).toEqual([
        {
          name: 'hb',
          ip: expect.stringMatching(/^10\.247\.0\.\d+$/),
          labels: {app: 'httpbin'},
          netnsPath: expect.stringMatching(/^\//),
          // The sandbox's namespace (CRI metadata): NetworkPolicies from a cluster are scoped by it.
          namespace: 'default',
        },
      ])
      let heard = 0
      const stop = source.subscribe(() => heard++)
      expect(
        (
          await cli([
            'pod',
            'add',
            'sl',
            '--runtime',
            'cri',
            '--workload',
            'sleep',
            '--config',
            conf,
            '--cni-path',
            bin,
            '--label',
            'app=sleep',
          ])
        ).exitCode,
      ).toBe(0)
      for (let i = 0; i < 50 && heard === 0; i++) await new Promise((r) => setTimeout(r, 100))
      stop()
      expect(heard).toBeGreaterThan(0)
      expect(source.list().map((p) => `${p.name}:${p.labels.app}`)).toEqual(['hb:httpbin', 'sl:sleep'])
    } finally {
      for (const p of ['hb', 'sl']) await cli(['pod', 'del', p])
    }
  }, 120_000)

  it("runs pods on Debian's bridge plugin too (the same path a cluster uses)", async () => {
    const conf = config('10-bridge.conflist', {
      cniVersion: '1.0.0',
      name: `crb${id}`,
      plugins: [
        {
          type: 'bridge',
          bridge: `cb${id}`,
          isGateway: true,
          ipMasq: false,
          ipam: {type: 'host-local', ranges: [[{subnet: '10.247.1.0/24'}]], dataDir: join(t.dir, 'host-local')},
        },
      ],
    })
    for (const p of ['bridge', 'host-local']) symlinkSync(`/usr/lib/cni/${p}`, join(bin, p))
    try {
      const a = await cli(['pod', 'add', 'ba', '--runtime', 'cri', '--config', conf, '--cni-path', bin])
      expect(a.exitCode, a.stderr).toBe(0)
      expect(a.stdout).toMatch(/ip 10\.247\.1\.\d+/)
      expect(
        (
          await cli([
            'pod',
            'add',
            'bb',
            '--runtime',
            'cri',
            '--workload',
            'sleep',
            '--config',
            conf,
            '--cni-path',
            bin,
          ])
        ).exitCode,
      ).toBe(0)
      expect((await cli(['pod', 'probe', 'bb', 'ba'])).exitCode).toBe(0)
    } finally {
      for (const p of ['ba', 'bb']) await cli(['pod', 'del', p])
      for (const p of ['bridge', 'host-local']) rmSync(join(bin, p), {force: true})
      await deleteLinkQuietly(`cb${id}`) // the bridge plugin keeps its bridge after the last DEL
    }
  }, 180_000)

  it('runtime.cri passes on the reference solution and stops the containerd it started', async () => {
    await cli(['reset', '--all', '--yes']) // no daemon running: the check starts its own
    learnerConf()
    plugin(SOLUTION)
    const r = await criCheck()
    expect(r.status, r.message).toBe('pass')
    expect(r.message).toMatch(/containerd ran pods 10\.247\.0\.\d+ and 10\.247\.0\.\d+ through your plugin/)
    const left = await execa('pgrep', ['-af', 'containerd'], {reject: false})
    expect(await containerdRunning(), left.stdout).toBe(false)
    expect(existsSync(join(t.dir, 'state/containerd'))).toBe(false)
  }, 120_000)

  it('runtime.cri teaches: a plugin that rejects CNI_ARGS keys it does not know', async () => {
    learnerConf()
    plugin(
      SOLUTION.replace(
        'prefix=${podcidr#*/}',
        `IFS=';' read -ra cni_args <<<"\${CNI_ARGS:-}"
for kv in "\${cni_args[@]}"; do
  case "\${kv%%=*}" in IgnoreUnknown|K8S_POD_NAME|K8S_POD_NAMESPACE) ;; *) error 4 "unknown CNI_ARGS key \${kv%%=*}" ;; esac
done
prefix=\${podcidr#*/}`,
      ),
    )
    const r = await criCheck()
    expect(r.status).toBe('fail')
    expect(r.message).toMatch(/Failed to create pod sandbox: .*unknown CNI_ARGS key K8S_POD_(INFRA_CONTAINER_ID|UID)/)
    expect(r.hint).toMatch(/IgnoreUnknown=1: a plugin must ignore keys it does not use/)
  }, 120_000)

  it('runtime.cri teaches: a plugin that ignores CNI_IFNAME', async () => {
    learnerConf()
    plugin(SOLUTION.replace('prefix=${podcidr#*/}', 'CNI_IFNAME=net0\nprefix=${podcidr#*/}'))
    const r = await criCheck()
    expect(r.status).toBe('fail')
    expect(`${r.message} ${r.hint}`).toMatch(/interface named CNI_IFNAME \(eth0\)/)
  }, 120_000)

  it("a config that sorts before the learner's is the one containerd uses, and the check says so", async () => {
    learnerConf()
    plugin(SOLUTION)
    writeFileSync(
      join(netd, '00-other.conflist'),
      JSON.stringify({cniVersion: '1.0.0', name: 'other', plugins: [{type: 'bridge'}]}),
    )
    const r = await criCheck()
    expect(r.status).toBe('fail')
    expect(r.message).toMatch(
      /containerd would use .*00-other\.conflist, not your 10-ebpfcni\.conf: the CRI plugin reads only the first config file/,
    )
  }, 60_000)

  it('reset stops a daemon a killed run left, and removes its state', async () => {
    const conf = learnerConf()
    plugin(SOLUTION)
    expect((await cli(['pod', 'add', 'left', '--runtime', 'cri', '--config', conf, '--cni-path', bin])).exitCode).toBe(
      0,
    )
    expect(await containerdRunning()).toBe(true)
    const dry = await cli(['reset', '--all', '--dry-run'])
    expect(dry.stdout).toMatch(/remove pod left \(cri runtime/)
    expect(dry.stdout).toMatch(/stop containerd \(cri runtime\)/)
    expect(dry.stdout).toMatch(/remove the cri runtime's containerd state/)
    const r = await cli(['reset', '--all', '--yes'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(await containerdRunning()).toBe(false)
    expect(existsSync(join(t.dir, 'state/containerd'))).toBe(false)
    // Shims of this daemon (matched by their -address argument; an exited one keeps no arguments).
    expect(
      (
        await execa('pgrep', ['-f', `-address ${join(t.dir, 'state/containerd/containerd.sock')}`], {reject: false})
      ).stdout.trim(),
    ).toBe('')
    await deleteLinkQuietly(`cr${id}`)
    expect(await hostSnapshot()).toEqual(before)
  }, 120_000)
})
