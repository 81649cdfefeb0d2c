import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, uniq, cliRunner} from '#test/helpers/env.js'
import {deleteLinkQuietly} from '#test/helpers/host.js'
import {liveAndDeadRuns} from '#test/helpers/live-runs.js'
import type {LedgerEntry} from '../../../src/host/ledger.js'
import {IPAM_DIR} from '../reset.js'

// Lab 1's discoverer finds what the learner's plugin made (the installed config's bridge, its veths,
// /var/lib/cni/ebpfcni): a reset in one terminal removed them under a check running in another.
// A veth into a live run's pod stays, with its bridge and the IPAM state; a dead run's veth goes.

describe("reset leaves the plugin's bridge, a live run's veths and the IPAM state while that run is alive", () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `rl${id}`
  const confDir = join(t.dir, 'net.d')
  const env = {EBPFCNI_STATE_DIR: t.dir, EBPFCNI_CNI_CONF_DIR: confDir, CI: 'true'}
  const cli = cliRunner(env)
  const pinDir = `/sys/fs/bpf/ebpfcni-rl1${id}`
  const netns = {live: `ebpfcni-rl${id}-live`, dead: `ebpfcni-rl${id}-dead`}
  const veth = {live: `rlv${id}`, dead: `rld${id}`}
  const ipamWasThere = existsSync(IPAM_DIR)
  let holder: ResultPromise | undefined
  let live: {pid: number; startTime?: number}
  let dead: {pid: number}

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    mkdirSync(confDir, {recursive: true})
    writeFileSync(
      join(confDir, '10-ebpfcni.conf'),
      JSON.stringify({cniVersion: '1.0.0', name: 'ebpfcni', type: 'ebpfcni', podcidr: '10.248.0.0/24', bridge}),
    )
    ;({holder, live, dead} = await liveAndDeadRuns(env, pinDir))
    // What the plugin makes for a pod: the bridge, a veth with its other end in the pod's netns.
    await execa('ip', ['link', 'add', bridge, 'type', 'bridge'])
    const at = new Date().toISOString()
    const entries: LedgerEntry[] = []
    for (const k of ['live', 'dead'] as const) {
      await execa('ip', ['netns', 'add', netns[k]])
      await execa('ip', ['link', 'add', veth[k], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns[k]])
      await execa('ip', ['link', 'set', veth[k], 'master', bridge, 'up'])
      entries.push({
        id: `${k}-ns`,
        kind: 'netns',
        name: netns[k],
        lab: 1,
        owner: 'check:lab1',
        createdAt: at,
        by: k === 'live' ? live : dead,
        details: {},
      })
    }
    writeFileSync(join(t.dir, 'ledger.json'), JSON.stringify({version: 1, entries}))
    if (!ipamWasThere) {
      mkdirSync(join(IPAM_DIR, 'ebpfcni'), {recursive: true})
      writeFileSync(join(IPAM_DIR, 'ebpfcni', '10.248.0.2'), 'live eth0\n')
    }
  }, 60_000)

  afterAll(async () => {
    holder?.kill('SIGTERM')
    await holder?.catch(() => undefined)
    for (const n of Object.values(netns)) await execa('ip', ['netns', 'del', n], {reject: false})
    for (const l of [...Object.values(veth), bridge]) await deleteLinkQuietly(l)
    await execa('rm', ['-rf', pinDir], {reject: false})
    t.cleanup()
  })

  it("reset --yes keeps them, named with the run; the dead run's veth goes; after the run, the next reset removes all", async () => {
    const why = `in use by pid ${live.pid}: ebpfcni metrics`
    const dry = await cli(['reset', '1', '--dry-run', '--json'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    const plan = JSON.parse(dry.stdout) as {
      actions: Array<{description: string}>
      kept: Array<{description: string; why: string}>
    }
    const kept = [
      `delete veth ${veth.live} (on ${bridge}, made by your plugin)`,
      `delete bridge ${bridge} (made by your plugin)`,
      ...(ipamWasThere ? [] : [`remove your plugin's IPAM state ${IPAM_DIR}`]),
    ]
    expect(plan.kept.map((k) => ({description: k.description, why: k.why}))).toEqual(
      expect.arrayContaining(kept.map((description) => ({description, why}))),
    )
    const planned = plan.actions.map((a) => a.description)
    expect(planned, dry.stdout).toContain(`delete veth ${veth.dead} (on ${bridge}, made by your plugin)`)
    for (const k of kept) expect(planned).not.toContain(k)

    const r = await cli(['reset', '1', '--yes'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain(`skipped: delete bridge ${bridge} (made by your plugin) (${why})`)
    const linkThere = async (name: string) =>
      (await execa('ip', ['link', 'show', 'dev', name], {reject: false})).exitCode === 0
    expect(await linkThere(bridge), r.stdout).toBe(true)
    expect(await linkThere(veth.live), r.stdout).toBe(true)
    expect(await linkThere(veth.dead), r.stdout).toBe(false)
    if (!ipamWasThere) expect(existsSync(IPAM_DIR), r.stdout).toBe(true)

    // Once the run has ended, the next reset removes what it left.
    holder!.kill('SIGKILL')
    await holder!.catch(() => undefined)
    const after = await cli(['reset', '1', '--yes'])
    expect(after.exitCode, after.stderr).toBe(0)
    expect(after.stdout).not.toContain(`pid ${live.pid}`)
    expect(await linkThere(bridge), after.stdout).toBe(false)
    expect(await linkThere(veth.live)).toBe(false)
    if (!ipamWasThere) expect(existsSync(IPAM_DIR), after.stdout).toBe(false)
  }, 60_000)
})
