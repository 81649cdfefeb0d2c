import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {mkdirSync, readFileSync, writeFileSync, chmodSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {tmpdir} from 'node:os'
import {tempStateDir, cliBin, repoRoot, requireBuilt, requireRoot, cliRunner} from '../helpers/env.js'
import {hostSnapshot} from '../helpers/host.js'

// Ctrl-C (SIGINT) and SIGTERM during `check 1` at several points: the run removes what it made and
// exits 130, a hung plugin dies with it; after SIGKILL, `reset --all --yes` finishes the job.

const SOLUTION = readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')
const HANGING = SOLUTION.replace('ADD)\n  [ -e "$CNI_NETNS" ]', 'ADD)\n  sleep 3600\n  [ -e "$CNI_NETNS" ]')

/**
 * Everything a check run can leave: netns, links, pins, and plugin processes (with their sleep). The
 * processes are this mount namespace's: the plugin runs in its caller's, and a test shard's private host
 * (scripts/private-host.sh) has one of its own, so another shard's plugin calls do not count here.
 */
async function snapshot() {
  const procs = await execa(
    'pgrep',
    ['--ns', String(process.pid), '--nslist', 'mnt', '-f', '/opt/cni/bin/ebpfcni|^sleep 3600$'],
    {reject: false},
  )
  return {
    ...(await hostSnapshot()),
    pins: readdirSync('/sys/fs/bpf').sort(),
    pluginProcesses: procs.stdout.trim().split('\n').filter(Boolean).length,
  }
}

describe('interrupting a check run leaves the host as it was', () => {
  const t = tempStateDir()
  const ws = join(t.dir, 'workspace')
  const env = {EBPFCNI_STATE_DIR: t.dir, EBPFCNI_WORKSPACE: ws, CI: 'true'}
  const cli = cliRunner(env)
  let before: Awaited<ReturnType<typeof snapshot>>

  const plugin = (text: string) => {
    mkdirSync(ws, {recursive: true})
    writeFileSync(join(ws, 'ebpfcni'), text)
    chmodSync(join(ws, 'ebpfcni'), 0o755)
    writeFileSync(
      join(ws, '10-ebpfcni.conf'),
      readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/10-ebpfcni.conf')),
    )
  }

  /**
   * Start `check 1` and send `signal` once it has printed its first check result (its handlers are in
   * place from then on, however slow the machine), plus `afterMs`; return its exit code and output.
   */
  const interruptAt = async (signal: NodeJS.Signals, afterMs: number) => {
    const child = execa('node', [cliBin, 'check', '1'], {
      reject: false,
      env,
      timeout: 120_000,
      stdin: 'ignore',
      all: true,
    })
    let out = ''
    child.all?.on('data', (d: Buffer) => (out += d.toString()))
    for (let i = 0; i < 600 && !/\[plugin\.present\]/.test(out); i++) await new Promise((r) => setTimeout(r, 25))
    await new Promise((r) => setTimeout(r, afterMs))
    child.kill(signal)
    return child
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    // A finished run leaves the learner's own bridge (their plugin made it; reset removes it):
    // make it first, so "as before" means what an uninterrupted run leaves.
    plugin(SOLUTION)
    expect((await cli(['check', '1', '--step', 'add'])).exitCode).toBe(0)
    before = await snapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    t.cleanup()
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const afterMs of [0, 1500, 3000]) {
      it(`${signal} ${afterMs} ms after the first check: exit 130, nothing left`, async () => {
        plugin(SOLUTION)
        const r = await interruptAt(signal, afterMs)
        expect(r.exitCode, r.all).toBe(130)
        const now = await snapshot()
        const left =
          now.netns.length -
          before.netns.length +
          now.links.length -
          before.links.length +
          now.pluginProcesses -
          before.pluginProcesses
        console.log(`${signal} ${afterMs} ms after the first check: ${left} object(s) left`)
        expect(now).toEqual(before)
        // An interrupted run is no verdict: no report, no progress.
        expect(r.all).not.toMatch(/lab 1: \d+ failing/)
      }, 60_000)
    }
  }

  it('SIGTERM while the plugin hangs in ADD: the plugin and its sleep die with the run', async () => {
    plugin(HANGING)
    const r = await interruptAt('SIGTERM', 3000)
    expect(r.exitCode, r.all).toBe(130)
    expect(await snapshot()).toEqual(before)
  }, 60_000)

  it('SIGINT during lab 1 --auto: the smoke test resets what it installed, exit 130', async () => {
    const child = execa('node', [cliBin, 'lab', '1', '--auto'], {
      reject: false,
      env,
      timeout: 120_000,
      stdin: 'ignore',
      all: true,
    })
    await new Promise((r) => setTimeout(r, 2500))
    child.kill('SIGINT')
    const r = await child
    expect(r.exitCode, r.all).toBe(130)
    expect(r.all).not.toMatch(/every step passed|FAILING CHECKS/)
    // Its reset takes the learner's bridge too (the config it installed names it), as an uninterrupted run does.
    expect(await snapshot()).toEqual({...before, links: before.links.filter((l) => l !== 'bridge0')})
    expect((await cli(['reset', '--dry-run'])).stdout).toMatch(/Nothing to remove/)
    // Put back what the other tests start from.
    plugin(SOLUTION)
    expect((await cli(['check', '1', '--step', 'add'])).exitCode).toBe(0)
  }, 60_000)

  it('SIGKILL cannot be caught: reset --all --yes removes what was left, orphaned plugin processes included', async () => {
    plugin(HANGING)
    const scratch = () => readdirSync(tmpdir()).filter((d) => d.startsWith('ebpfcni-check-'))
    const scratchBefore = scratch()
    const r = await interruptAt('SIGKILL', 3000)
    expect(r.signal).toBe('SIGKILL')
    const orphaned = scratch().filter((d) => !scratchBefore.includes(d))
    expect(orphaned.length, 'the killed run made its scratch dir and could not remove it').toBeGreaterThan(0)
    const left = await snapshot()
    expect(left.pluginProcesses, 'the hung plugin outlives a SIGKILLed run (reparented to init)').toBeGreaterThan(
      before.pluginProcesses,
    )
    const dry = await cli(['reset', '--all', '--dry-run'])
    expect(dry.stdout).toMatch(/stop your plugin's process \d+/)
    const reset = await cli(['reset', '--all', '--yes'])
    expect(reset.exitCode, reset.stderr).toBe(0)
    expect(dry.stdout).toMatch(/remove scratch directory .*ebpfcni-check-/)
    // reset also removes the learner's bridge, which `before` has.
    expect(await snapshot()).toEqual({...before, links: before.links.filter((l) => l !== 'bridge0')})
    expect(scratch().filter((d) => orphaned.includes(d))).toEqual([])
  }, 60_000)
})

// `timeout 20 ebpfcni lab all --auto`, or the terminal it runs in closing: the signal comes through
// the parent, to the whole process group (the plugin and `ip` in flight get it too), not only to
// ebpfcni. The smoke test installs for real (/opt/cni/bin, /etc/cni/net.d, pins), so "as before"
// looks there as well.
describe('lab all --auto ended by SIGTERM or SIGHUP through its process group leaves the host as it was', () => {
  const t = tempStateDir()
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env)

  const tree = (dir: string): string[] => {
    try {
      return readdirSync(dir, {recursive: true}).map(String).sort()
    } catch {
      return []
    }
  }
  const state = async () => ({
    ...(await snapshot()),
    bpffs: tree('/sys/fs/bpf'),
    cniConf: tree('/etc/cni/net.d'),
    cniBin: tree('/opt/cni/bin'),
  })

  beforeAll(() => {
    requireRoot()
    requireBuilt()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    t.cleanup()
  })

  const cases: Array<[NodeJS.Signals, RegExp, number]> = [
    // Lab 1's production step: pods filling subnets, podman and containerd's pods.
    ['SIGTERM', /… lab 1: Step 4/, 2000],
    // Lab 5: nodes (namespaces joined by an underlay), programs pinned per node.
    ['SIGHUP', /… lab 5: Step 1/, 1000],
  ]
  for (const [signal, at, afterMs] of cases) {
    it(`${signal} to the group ${afterMs} ms after "${at.source}": exit 130, nothing left`, async () => {
      const before = await state()
      // Its own process group, as under `timeout` or a shell: the signal goes to the group.
      const child = execa('node', [cliBin, 'lab', 'all', '--auto'], {
        reject: false,
        env,
        timeout: 240_000,
        stdin: 'ignore',
        all: true,
        detached: true,
      })
      let out = ''
      child.all?.on('data', (d: Buffer) => (out += d.toString()))
      for (let i = 0; i < 9600 && !at.test(out) && child.exitCode === null; i++)
        await new Promise((r) => setTimeout(r, 25))
      expect(out, 'the run never reached the point to interrupt').toMatch(at)
      await new Promise((r) => setTimeout(r, afterMs))
      process.kill(-child.pid!, signal)
      const r = await child
      expect(r.exitCode, r.all).toBe(130)
      expect(r.all).not.toMatch(/FAILING CHECKS/)
      expect(await state()).toEqual(before)
      expect((await cli(['reset', '--all', '--dry-run'])).stdout).toMatch(/Nothing to remove/)
    }, 300_000)
  }
})
