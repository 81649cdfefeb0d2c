import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, writeFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, cliBin, requireBuilt, requireRoot, repoRoot, uniq} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'

const FIX = join(repoRoot, 'test/fixtures/bpf')

describe('CLI: bpf build, load, attach, maps, trace, detach; reset removes pins and attachments', () => {
  const t = tempStateDir()
  const id = uniq()
  const pinDir = `/sys/fs/bpf/ebpfcni-t${id}`
  const bridge = `bb${id}`
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = (args: string[]) => execa('node', [cliBin, ...args], {reject: false, env, timeout: 60_000, stdin: 'ignore'})
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--yes'])
    await deleteLinkQuietly(bridge)
    t.cleanup()
  })

  it('bpf build: exit 1 with file:line:col and the caret for a syntax error; exit 0 and an object otherwise', async () => {
    const bad = await cli(['bpf', 'build', join(FIX, 'syntax_error.bpf.c'), '-o', join(t.dir, 'x.o')])
    expect(bad.exitCode).toBe(1)
    expect(bad.stdout).toMatch(/syntax_error\.bpf\.c:5:18 error: expected ';' after return statement/)
    expect(bad.stdout).toMatch(/\^/)
    const good = await cli(['bpf', 'build', join(FIX, 'arp_drop.bpf.c'), '-o', join(t.dir, 'arp.o')])
    expect(good.exitCode, good.stdout).toBe(0)
    expect(existsSync(join(t.dir, 'arp.o'))).toBe(true)
  })

  it('bpf load: a verifier refusal shows the source line and why, exit 1, nothing pinned', async () => {
    await cli(['bpf', 'build', join(FIX, 'no_bounds_check.bpf.c'), '-o', join(t.dir, 'nb.o')])
    const r = await cli(['bpf', 'load', join(t.dir, 'nb.o'), '--pin-dir', pinDir])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toMatch(/the verifier refused the program/)
    expect(r.stdout).toMatch(/at no_bounds_check\.bpf\.c:7: return eth->h_proto/)
    expect(r.stdout).toMatch(/why: Packet access without a bounds check/)
    expect(existsSync(pinDir)).toBe(false)
  })

  it('bpf load pins; attach to a pod drops its ARP; maps decode; detach restores; reset removes it all', async () => {
    const load = await cli(['bpf', 'load', join(t.dir, 'arp.o'), '--pin-dir', pinDir])
    expect(load.exitCode, load.stderr).toBe(0)
    expect(existsSync(join(pinDir, 'arp_drop'))).toBe(true)
    const conf = join(t.dir, 'net.conflist')
    mkdirSync(join(t.dir, 'ipam'), {recursive: true})
    writeFileSync(conf, JSON.stringify({cniVersion: '1.0.0', name: `b${id}`, plugins: [{type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: {type: 'host-local', ranges: [[{subnet: '10.239.0.0/24'}]], dataDir: join(t.dir, 'ipam')}}]}))
    expect((await cli(['pod', 'add', 'web', '--config', conf])).exitCode).toBe(0)
    expect((await cli(['pod', 'add', 'cli', '--config', conf, '--workload', 'sleep'])).exitCode).toBe(0)
    expect((await cli(['pod', 'probe', 'cli', 'web', '--icmp'])).exitCode).toBe(0)

    const attach = await cli(['bpf', 'attach', join(pinDir, 'arp_drop'), '--pod', 'web'])
    expect(attach.exitCode, attach.stderr).toBe(0)
    expect(attach.stdout).toMatch(/attached to veth\w+ in generic mode/)
    await execa('ip', ['-n', 'ebpfcni-cli', 'neigh', 'flush', 'all'])
    // web's ARP replies leave through its host veth, where the program drops them.
    expect((await cli(['pod', 'probe', 'cli', 'web', '--icmp'])).exitCode).toBe(1)

    const list = await cli(['bpf', 'maps', '--pin-dir', pinDir, '--json'])
    const maps = JSON.parse(list.stdout) as Array<{name: string; keySize: number}>
    expect(maps.map((m) => m.name)).toEqual(['by_proto']) // the pinned program is not listed as a map
    const dump = JSON.parse((await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--json'])).stdout) as {entries: Array<{keyHex: string; value: string}>}
    const arp = dump.entries.find((e) => e.keyHex === '06080000')
    expect(Number(arp?.value)).toBeGreaterThan(0)

    // by_proto is keyed by ethertype (host order): 0x0806 is 06080000 in memory.
    expect((await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', '2a000000', '--set', '42'])).stdout).toBe('2a000000 = 42')
    expect((await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', '2a000000', '--delete'])).stdout).toBe('deleted 2a000000')
    const gone = await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', '2a000000'])
    expect(gone.exitCode).toBe(1)
    expect(gone.stdout).toMatch(/not in the map/)
    const badKey = await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', 'zz'])
    expect(badKey.exitCode).toBe(2)
    expect(badKey.stderr).toMatch(/key "zz" is not 4 bytes/)

    const trace = await cli(['bpf', 'trace', '--for', '1'])
    expect(trace.exitCode).toBe(0)
    expect(trace.stderr).toMatch(/line\(s\) in 1 s/)

    expect((await cli(['bpf', 'detach', '--pod', 'web'])).stdout).toMatch(/detached XDP from veth/)
    await execa('ip', ['-n', 'ebpfcni-cli', 'neigh', 'flush', 'all'])
    expect((await cli(['pod', 'probe', 'cli', 'web', '--icmp'])).exitCode).toBe(0)

    const dry = await cli(['reset', '--dry-run'])
    expect(dry.stdout).toContain(`unpin ${join(pinDir, 'arp_drop')}`)
    expect((await cli(['reset', '--yes'])).exitCode).toBe(0)
    expect(existsSync(pinDir)).toBe(false)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  })
})
