import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '#test/helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '#test/helpers/host.js'
import {pluginPods} from './plugin-pods.js'

// Walked: `pod del httpbin`, `pod add httpbin` (the freed address, a new MAC), then `pod probe sleep
// httpbin` timed out for about 10 s: the sleep pod still mapped the address to the deleted pod's MAC.

const SOLUTION = readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')

describe('a pod deleted and added again at its address is reached at once', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `pr${id}`
  const {bin, conf, cli, install, prepare} = pluginPods(t.dir, {name: `readd${id}`, podcidr: '10.247.0.0/24', bridge})
  const podAdd = (name: string, workload: string) =>
    cli(['pod', 'add', name, '--workload', workload, '--config', conf, '--cni-path', bin, '--json'])
  const added = async (name: string, workload: string): Promise<{ip: string; mac: string}> => {
    const r = await podAdd(name, workload)
    expect(r.exitCode, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as {ip: string; mac: string}
  }
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    prepare()
    install(SOLUTION)
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    await deleteLinkQuietly(bridge)
    t.cleanup()
  })

  it('the other pod forgets the old MAC: its first probe after the re-ADD succeeds', async () => {
    const first = await added('web', 'httpbin')
    await added('client', 'sleep')
    // The client learns web's MAC (REACHABLE for tens of seconds).
    const warm = await cli(['pod', 'probe', 'client', 'web'])
    expect(warm.exitCode, warm.stdout + warm.stderr).toBe(0)
    expect((await cli(['pod', 'del', 'web'])).exitCode).toBe(0)
    const again = await added('web', 'httpbin')
    expect(again.ip).toBe(first.ip)
    expect(again.mac).not.toBe(first.mac)
    // Without the tool's forgetting (the gratuitous ARP a bridge plugin sends), this timed out.
    const probe = await cli(['pod', 'probe', 'client', 'web'])
    expect(probe.exitCode, probe.stdout + probe.stderr).toBe(0)
    for (const p of ['web', 'client']) expect((await cli(['pod', 'del', p])).exitCode).toBe(0)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  }, 60_000)
})
