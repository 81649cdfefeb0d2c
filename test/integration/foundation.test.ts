import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, mkdirSync, writeFileSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {Ledger} from '../../src/host/ledger.js'
import {netnsAdd, netnsExists, link} from '../../src/net/ip.js'
import {tempStateDir, cliBin, requireBuilt, requireRoot, uniq} from '../helpers/env.js'
import {pinCounterMap} from '../helpers/host.js'

const cli = (args: string[], env: Record<string, string>) =>
  execa('node', [cliBin, ...args], {reject: false, env: {...env, CI: 'true'}, timeout: 60_000})

describe('foundation: doctor, ledger + reset on real host objects', () => {
  const t = tempStateDir()
  const env = {EBPFCNI_STATE_DIR: t.dir}
  const id = uniq()
  const ns = `ebpfcni-t${id}`
  const veth = `vt${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-test-${id}`
  const pin = join(pinDir, 'counter')
  const installed = join(t.dir, 'installed.conf')

  beforeAll(() => {
    requireRoot()
    requireBuilt()
  })
  afterAll(async () => {
    // Belt and braces: whatever a failed assertion left, remove it.
    await execa('ip', ['netns', 'del', ns], {reject: false})
    await execa('ip', ['link', 'del', veth], {reject: false})
    rmSync(pinDir, {recursive: true, force: true})
    t.cleanup()
  })

  it('doctor --json reports every item with status and passes on this machine', async () => {
    const r = await cli(['doctor', '--json'], env)
    const out = JSON.parse(r.stdout) as {
      passed: boolean
      items: Array<{id: string; status: string; message: string; required: boolean}>
    }
    const ids = out.items.map((i) => i.id)
    expect(ids).toEqual(
      expect.arrayContaining([
        'root',
        'kernel',
        'btf',
        'bpffs',
        'tracefs',
        'clang',
        'libbpf',
        'bpftool',
        'jq',
        'cni-dirs',
        'ip-forward',
        'podman',
      ]),
    )
    const failing = out.items.filter((i) => i.status === 'fail')
    expect(failing, JSON.stringify(failing)).toEqual([])
    expect(out.passed).toBe(true)
    expect(r.exitCode).toBe(0)
    expect(out.items.find((i) => i.id === 'libbpf')?.message).toMatch(/^libbpf 1\.\d+/)
    // The check engine's result shape, as `check --json` prints it, plus whether the item is required.
    for (const i of out.items) expect(['pass', 'fail', 'warn']).toContain(i.status)
    expect(out.items.find((i) => i.id === 'podman')?.required).toBe(false)
  })

  it('reset removes the netns, veth, pin and installed file the ledger names; dry-run changes nothing; idempotent', async () => {
    const ledger = new Ledger(join(t.dir, 'ledger.json'))
    // Write-ahead, as the tool does: record, then create.
    ledger.record('netns', ns, {lab: 1})
    await netnsAdd(ns)
    ledger.record('link', veth, {lab: 1})
    await execa('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`])
    mkdirSync(pinDir, {recursive: true})
    ledger.record('pin', pinDir, {lab: 1})
    await pinCounterMap(pin)
    writeFileSync(installed, 'original\n')
    const backup = join(t.dir, 'installed.conf.bak')
    writeFileSync(backup, 'original\n')
    writeFileSync(installed, 'replaced by the tool\n')
    ledger.record('file', installed, {lab: 1, details: {backup}})
    // A ledger entry whose object was never made (crash between record and create).
    ledger.record('netns', `ebpfcni-never-${id}`, {lab: 1})

    const dry = await cli(['reset', '--dry-run', '--json'], env)
    expect(dry.exitCode).toBe(0)
    const plan = JSON.parse(dry.stdout) as {actions: Array<{description: string}>}
    const described = plan.actions.map((a) => a.description).join('\n')
    expect(described).toContain(`delete netns ${ns}`)
    expect(described).toContain(`delete link ${veth}`)
    expect(described).toContain(`unpin ${pinDir}`)
    expect(described).toContain(`restore ${installed}`)
    // Nothing changed by the dry run.
    expect(netnsExists(ns)).toBe(true)
    expect(await link(veth)).toBeDefined()
    expect(existsSync(pin)).toBe(true)
    expect(ledger.entries()).toHaveLength(5)

    // Without a terminal and without --yes, reset refuses rather than waiting.
    const noYes = await cli(['reset'], env)
    expect(noYes.exitCode).toBe(2)
    expect(noYes.stderr).toMatch(/needs --yes/)
    expect(netnsExists(ns)).toBe(true)

    const r = await cli(['reset', '--yes'], env)
    expect(r.exitCode, r.stderr).toBe(0)
    expect(netnsExists(ns)).toBe(false)
    expect(await link(veth)).toBeUndefined()
    expect(await link(`${veth}p`)).toBeUndefined()
    expect(existsSync(pinDir)).toBe(false)
    expect(readFileSync(installed, 'utf8')).toBe('original\n')
    expect(ledger.entries()).toEqual([])

    const again = await cli(['reset', '--yes'], env)
    expect(again.exitCode).toBe(0)
    expect(again.stdout).toMatch(/Nothing to remove/)
    const dry2 = await cli(['reset', '--dry-run'], env)
    expect(dry2.stdout).toMatch(/Nothing to remove/)
  })

  it('a corrupt ledger is reported and moved aside; the CLI still works', async () => {
    writeFileSync(join(t.dir, 'ledger.json'), '{"version":1,"entr')
    const r = await cli(['reset', '--dry-run'], env)
    expect(r.exitCode).toBe(0)
    expect(r.stderr).toMatch(/ledger .* unreadable; moved it to/)
    expect(r.stdout).toMatch(/Nothing to remove/)
  })
})
