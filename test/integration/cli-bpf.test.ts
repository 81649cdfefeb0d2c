import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, writeFileSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, cliBin, requireBuilt, requireRoot, repoRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'

const FIX = join(repoRoot, 'test/fixtures/bpf')

describe('CLI: bpf build, load, attach, maps, trace, detach; reset removes pins and attachments', () => {
  const t = tempStateDir()
  const id = uniq()
  const pinDir = `/sys/fs/bpf/ebpfcni-t${id}`
  const bridge = `bb${id}`
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env, 60_000)
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
    // The plain command it stands for, on stderr: the attendee can type it without ebpfcni.
    const line = /same as: (clang -O2 -g -target bpf .*)/.exec(good.stderr)?.[1]
    expect(line, good.stderr).toContain(`-c ${join(FIX, 'arp_drop.bpf.c')} -o ${join(t.dir, 'arp.o')}`)
    const typed = await execa(line!.split(' ')[0], line!.split(' ').slice(1), {reject: false})
    expect(typed.exitCode, typed.stderr).toBe(0)
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

  it('bpf load: a pin directory off the BPF filesystem is a usage error naming bpffs (exit 2), not a bug of ours', async () => {
    // The kernel answers EINVAL for a pin on ext4/tmpfs, which read 'this looks like a bug in ebpfcni' (exit 70).
    await cli(['bpf', 'build', join(FIX, 'arp_drop.bpf.c'), '-o', join(t.dir, 'arp.o')])
    const off = join(t.dir, 'pins')
    const r = await cli(['bpf', 'load', join(t.dir, 'arp.o'), '--pin-dir', off])
    expect(r.exitCode, r.stderr).toBe(2)
    expect(r.stderr).toMatch(new RegExp(`${off} is on \\S+, not the BPF filesystem`))
    expect(r.stderr).not.toMatch(/bug in ebpfcni/)
    expect(existsSync(off)).toBe(false)
  })

  it('bpf load pins; attach to a pod drops its ARP; maps decode; detach restores; reset removes it all', async () => {
    const load = await cli(['bpf', 'load', join(t.dir, 'arp.o'), '--pin-dir', pinDir])
    expect(load.exitCode, load.stderr).toBe(0)
    expect(existsSync(join(pinDir, 'arp_drop'))).toBe(true)
    const conf = join(t.dir, 'net.conflist')
    mkdirSync(join(t.dir, 'ipam'), {recursive: true})
    writeFileSync(
      conf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `b${id}`,
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            ipam: {type: 'host-local', ranges: [[{subnet: '10.239.0.0/24'}]], dataDir: join(t.dir, 'ipam')},
          },
        ],
      }),
    )
    expect((await cli(['pod', 'add', 'web', '--config', conf])).exitCode).toBe(0)
    expect((await cli(['pod', 'add', 'cli', '--config', conf, '--workload', 'sleep'])).exitCode).toBe(0)
    expect((await cli(['pod', 'probe', 'cli', 'web', '--icmp'])).exitCode).toBe(0)

    const attach = await cli(['bpf', 'attach', join(pinDir, 'arp_drop'), '--pod', 'web'])
    expect(attach.exitCode, attach.stderr).toBe(0)
    expect(attach.stdout).toMatch(/attached to veth\w+ in generic mode/)
    await execa('ip', ['-n', 'ebpfcni-cli', 'neigh', 'flush', 'all'])
    // web's ARP replies leave through its host veth, where the program drops them.
    expect((await cli(['pod', 'probe', 'cli', 'web', '--icmp'])).exitCode).toBe(1)

    // What is attached where, as bpftool net shows it, and in the pod listing.
    const progs = JSON.parse((await cli(['bpf', 'progs', '--json'])).stdout) as Array<{
      dev: string
      pod: string | null
      hook: string
      mode: string
      id: number
      name: string
    }>
    expect(progs).toEqual(
      expect.arrayContaining([expect.objectContaining({pod: 'web', hook: 'xdp', mode: 'generic', name: 'arp_drop'})]),
    )
    // load --replace moves web's XDP hook from the old program to the new one, as the lab 2 trace step relies on.
    const webId = progs.find((p) => p.pod === 'web')!.id
    const reload = await cli(['bpf', 'load', join(t.dir, 'arp.o'), '--pin-dir', pinDir, '--replace'])
    expect(reload.exitCode, reload.stderr).toBe(0)
    expect(reload.stdout).toMatch(/veth\w+ now runs the new arp_drop \(XDP\)/)
    const after = JSON.parse((await cli(['bpf', 'progs', '--json'])).stdout) as typeof progs
    const newId = after.find((p) => p.pod === 'web' && p.hook === 'xdp')!.id
    expect(newId).not.toBe(webId)
    const pinnedNow = JSON.parse(
      (await execa('bpftool', ['-j', 'prog', 'show', 'pinned', join(pinDir, 'arp_drop')])).stdout,
    ) as {id: number}
    expect(newId).toBe(pinnedNow.id)
    progs.splice(0, progs.length, ...after)

    // A native attachment (`ip link set … xdp` picks it on a veth) moves too, in its own mode, and is named.
    const native = await cli(['bpf', 'attach', join(pinDir, 'arp_drop'), '--pod', 'cli', '--mode', 'native'])
    expect(native.exitCode, native.stderr).toBe(0)
    const again = await cli(['bpf', 'load', join(t.dir, 'arp.o'), '--pin-dir', pinDir, '--replace'])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/veth\w+ now runs the new arp_drop \(XDP native\)/)
    expect(again.stdout).toMatch(/veth\w+ now runs the new arp_drop \(XDP\)$/m)
    const pinnedAgain = JSON.parse(
      (await execa('bpftool', ['-j', 'prog', 'show', 'pinned', join(pinDir, 'arp_drop')])).stdout,
    ) as {id: number}
    const moved = JSON.parse((await cli(['bpf', 'progs', '--json'])).stdout) as typeof progs
    const xdpOfPods = moved.filter((p) => p.hook === 'xdp' && (p.pod === 'web' || p.pod === 'cli'))
    expect(xdpOfPods).toHaveLength(2)
    expect(xdpOfPods).toEqual(
      expect.arrayContaining([
        expect.objectContaining({pod: 'web', mode: 'generic', id: pinnedAgain.id}),
        expect.objectContaining({pod: 'cli', mode: 'native', id: pinnedAgain.id}),
      ]),
    )
    expect((await cli(['bpf', 'detach', '--pod', 'cli', '--mode', 'native'])).exitCode).toBe(0)
    progs.splice(0, progs.length, ...moved)

    const podList = JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{
      name: string
      bpf: Array<{hook: string; id: number}>
    }>
    expect(podList.find((p) => p.name === 'web')?.bpf).toEqual([
      expect.objectContaining({hook: 'xdp', id: progs.find((p) => p.pod === 'web')!.id}),
    ])
    // A program is not a map: a user error with a hint, not "please report it".
    const notMap = await cli(['bpf', 'maps', 'arp_drop', '--pin-dir', pinDir])
    expect(notMap.exitCode).toBe(2)
    expect(notMap.stderr).toMatch(/this pinned object is a program, not a BPF map\nhint: name a map, not a program/)
    expect(notMap.stderr).not.toMatch(/report it/)
    // Nothing pinned there: says so and how to get there.
    const nothing = await cli(['bpf', 'attach', 'nope', '--pin-dir', pinDir, '--dev', 'lo'])
    expect(nothing.exitCode).toBe(2)
    expect(nothing.stderr).toMatch(
      /nothing is pinned at .*\/nope: ENOENT \(2\)\nhint: build and load your program first/,
    )

    const list = await cli(['bpf', 'maps', '--pin-dir', pinDir, '--json'])
    const maps = JSON.parse(list.stdout) as Array<{name: string; keySize: number}>
    expect(maps.map((m) => m.name)).toEqual(['by_proto']) // the pinned program is not listed as a map
    const dump = JSON.parse((await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--json'])).stdout) as {
      entries: Array<{keyHex: string; value: string}>
    }
    const arp = dump.entries.find((e) => e.keyHex === '06080000')
    expect(Number(arp?.value)).toBeGreaterThan(0)

    // by_proto is keyed by ethertype (host order): 0x0806 is 06080000 in memory.
    expect(
      (await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', '2a000000', '--set', '42'])).stdout,
    ).toBe('2a000000 = 42')
    expect((await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', '2a000000', '--delete'])).stdout).toBe(
      'deleted 2a000000',
    )
    const gone = await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', '2a000000'])
    expect(gone.exitCode).toBe(1)
    expect(gone.stdout).toMatch(/not in the map/)
    const badKey = await cli(['bpf', 'maps', 'by_proto', '--pin-dir', pinDir, '--key', 'zz'])
    expect(badKey.exitCode).toBe(2)
    expect(badKey.stderr).toMatch(/key "zz" is not 4 bytes/)

    const trace = await cli(['bpf', 'trace', '--for', '1'])
    expect(trace.exitCode).toBe(0)
    expect(trace.stderr).toMatch(/line\(s\) in 1 s|^no trace line in 1 s$/m) // bpf-trace.test.ts: what follows
    // --json is NDJSON: every line its own object.
    const ndjson = await cli(['bpf', 'trace', '--for', '1', '--json'])
    expect(ndjson.exitCode).toBe(0)
    for (const line of ndjson.stdout.split('\n').filter(Boolean)) expect(JSON.parse(line)).toHaveProperty('line')
    // Without tracefs (unmounted in a private mount namespace only): exit 2 and how to mount it.
    const noTracefs = await execa(
      'unshare',
      [
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-c',
        'umount /sys/kernel/tracing && exec node "$0" bpf trace --for 1',
        cliBin,
      ],
      {reject: false, env: {...env, CI: 'true'}},
    )
    expect(noTracefs.exitCode).toBe(2)
    expect(noTracefs.stderr).toMatch(
      /tracefs is not mounted at \/sys\/kernel\/tracing.*\nhint: mount -t tracefs tracefs/,
    )

    const detached = JSON.parse((await cli(['bpf', 'detach', '--pod', 'web', '--json'])).stdout) as {
      dev: string
      hook: string
      detached: boolean
    }
    expect(detached).toMatchObject({hook: 'xdp', detached: true})
    expect(detached.dev).toMatch(/^veth/)
    await execa('ip', ['-n', 'ebpfcni-cli', 'neigh', 'flush', 'all'])
    expect((await cli(['pod', 'probe', 'cli', 'web', '--icmp'])).exitCode).toBe(0)

    const dry = await cli(['reset', '--dry-run'])
    expect(dry.stdout).toContain(`unpin ${join(pinDir, 'arp_drop')}`)
    expect((await cli(['reset', '--yes'])).exitCode).toBe(0)
    expect(existsSync(pinDir)).toBe(false)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  }, 300_000)
})
