import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {cliRunner, tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'
import {nodeBinDir} from '../helpers/lab-harness.js'
import {probePodman} from '../../src/pods/podman-backend.js'

// Debian 13's podman 5.4 is built netavark-only. Here (Debian 12, podman 4.3 with CNI) the podman
// path must still run; a stand-in podman that answers as 5.4.2 does (its version, and its refusal of
// the CNI backend, word for word) shows what an attendee on Debian 13 gets: doctor names it with the
// fix, runtime.podman is skipped with the reason while runtime.cri proves the plugin, and
// --runtime podman is refused with the fix. The fresh trixie root (fresh-root.test.ts) runs the real one.

const SOLUTION = readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')

/** A podman that is 5.4.2 built without CNI: it refuses network_backend = "cni", as the real one does. */
const NETAVARK_ONLY_PODMAN = `#!/bin/sh
[ "$1" = --version ] && { echo "podman version 5.4.2"; exit 0; }
if [ -n "$CONTAINERS_CONF" ] && grep -q 'network_backend *= *"cni"' "$CONTAINERS_CONF"; then
  echo 'Error: cni support is not enabled in this build, only netavark. Got unsupported network backend "cni"' >&2
  exit 125
fi
echo netavark
`

interface Item {
  id: string
  status: string
  message: string
  hint?: string
}
interface Report {
  passed: boolean
  checks: Item[]
}

describe('podman with and without CNI (Debian 12 and 13)', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `pc${id}`
  const fakeBin = join(t.dir, 'fake-bin')
  const env = {
    EBPFCNI_STATE_DIR: join(t.dir, 'state'),
    EBPFCNI_CNI_BIN_DIR: join(t.dir, 'bin'),
    EBPFCNI_CNI_CONF_DIR: join(t.dir, 'net.d'),
    CI: 'true',
    PATH: process.env.PATH ?? '',
  }
  const asDebian13 = {PATH: `${fakeBin}:${process.env.PATH}`}
  const cli = cliRunner(env, 300_000)
  const ws = join(t.dir, 'ws')
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    mkdirSync(fakeBin, {recursive: true})
    writeFileSync(join(fakeBin, 'podman'), NETAVARK_ONLY_PODMAN)
    chmodSync(join(fakeBin, 'podman'), 0o755)
    nodeBinDir(env.EBPFCNI_CNI_BIN_DIR)
    mkdirSync(ws, {recursive: true})
    writeFileSync(join(ws, 'ebpfcni'), SOLUTION)
    chmodSync(join(ws, 'ebpfcni'), 0o755)
    const config = {cniVersion: '1.0.0', name: `ebpfcni${id}`, type: 'ebpfcni', podcidr: '10.246.0.0/24', bridge}
    writeFileSync(join(ws, '10-ebpfcni.conf'), JSON.stringify({...config, dataDir: join(t.dir, 'ipam')}))
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await deleteLinkQuietly(bridge)
    t.cleanup()
  })

  it("this machine's podman is probed for real: 4.3 with the CNI backend", async () => {
    const p = await probePodman()
    expect(p).toMatchObject({installed: true, cni: true})
    expect(p.version).toMatch(/^4\./)
    const r = await cli(['doctor', '--json'])
    const item = (JSON.parse(r.stdout) as {items: Item[]}).items.find((i) => i.id === 'podman-cni')
    expect(item, r.stdout).toMatchObject({status: 'pass', message: `podman ${p.version} has the CNI backend`})
  })

  it('doctor names a netavark-only podman with its version and the fix, as an optional item', async () => {
    const r = await cli(['doctor', '--json'], asDebian13)
    const d = JSON.parse(r.stdout) as {passed: boolean; items: Item[]}
    const item = d.items.find((i) => i.id === 'podman-cni')
    expect(item?.status, r.stdout).toBe('warn')
    expect(item?.message).toMatch(/^podman 5\.4\.2 is built netavark-only: it refuses the CNI backend/)
    expect(item?.hint).toMatch(/ebpfcni check 1 --runtime cri/)
    // Optional: a machine whose podman cannot do CNI is still ready for every lab.
    expect(d.items.filter((i) => i.status === 'fail')).toEqual([])
    expect(r.exitCode).toBe(0)
    const human = await cli(['doctor', '--no-color'], asDebian13)
    expect(human.stdout).toMatch(/podman 5\.4\.2 is built netavark-only/)
  })

  it('pod add --runtime podman on a netavark-only podman is refused (exit 2) with the fix, making nothing', async () => {
    const r = await cli(
      ['pod', 'add', `pc${id}`, '--runtime', 'podman', '--config', join(ws, '10-ebpfcni.conf')],
      asDebian13,
    )
    expect(r.exitCode, r.stdout + r.stderr).toBe(2)
    expect(r.stderr).toMatch(/podman 5\.4\.2 is built netavark-only/)
    expect(r.stderr).toMatch(/--runtime cri/)
    expect((await cli(['pod', 'list', '--json'])).stdout).not.toContain(`pc${id}`)
  })

  it('lab 1 production on this podman runs podman; with a netavark-only one it skips runtime.podman for runtime.cri', async () => {
    const run = async (extra: Record<string, string>, args: string[] = []) => {
      const r = await cli(['check', '1', '--step', 'production', '--json', '--workspace', ws, ...args], extra)
      return {r, report: JSON.parse(r.stdout) as Report}
    }
    const byId = (rep: Report, cid: string) => rep.checks.find((c) => c.id === cid)

    const here = await run({})
    expect(byId(here.report, 'runtime.podman'), here.r.stdout).toMatchObject({status: 'pass'})
    expect(byId(here.report, 'runtime.podman')?.message).toMatch(/^podman 4\.\S+ \(CNI backend\) ran containers/)
    expect(here.report.passed).toBe(true)

    const d13 = await run(asDebian13)
    const podman = byId(d13.report, 'runtime.podman')
    expect(podman?.status, d13.r.stdout).toBe('skip')
    expect(podman?.message).toMatch(
      /podman 5\.4\.2 is built netavark-only.*runtime\.cri proves your plugin under a real runtime instead/,
    )
    expect(byId(d13.report, 'runtime.cri')).toMatchObject({status: 'pass'})
    expect(byId(d13.report, 'runtime.cri')?.message).toMatch(/containerd ran pods/)
    expect(d13.report.passed, d13.r.stdout).toBe(true)
    expect(d13.r.exitCode).toBe(0)

    // Asked for podman by name, the same machine fails runtime.podman with the fix, not a silent skip.
    const asked = await run(asDebian13, ['--runtime', 'podman'])
    const refused = byId(asked.report, 'runtime.podman')
    expect(refused?.status, asked.r.stdout).toBe('fail')
    expect(refused?.message).toMatch(/podman 5\.4\.2 is built netavark-only/)
    expect(refused?.hint).toMatch(/--runtime cri/)
    expect(asked.r.exitCode).toBe(1)

    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  }, 900_000)
})
