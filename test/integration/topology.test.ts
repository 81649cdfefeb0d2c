import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireBuilt, requireRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import type {Topology} from '../../src/topology/topology.js'

// `ebpfcni topology` against what `ip`, `pod list` and `bpf progs` say of the same pods.

describe('ebpfcni topology: the node in one picture', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `tp${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-tp${id}`
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env)
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    await deleteLinkQuietly(bridge)
    await execa('rm', ['-rf', pinDir], {reject: false})
    t.cleanup()
  })

  it('draws the bridge, each pod behind its veth with IP, MAC and labels, and the program on a veth; --json is the same model', async () => {
    const conf = join(t.dir, 'net.conflist')
    mkdirSync(join(t.dir, 'ipam'), {recursive: true})
    const ipam = {type: 'host-local', ranges: [[{subnet: '10.238.0.0/24'}]], dataDir: join(t.dir, 'ipam')}
    writeFileSync(
      conf,
      JSON.stringify({cniVersion: '1.0.0', name: `t${id}`, plugins: [{type: 'bridge', bridge, isGateway: true, ipam}]}),
    )
    expect((await cli(['pod', 'add', 'web', '--config', conf, '-l', 'app=web'])).exitCode).toBe(0)
    expect((await cli(['pod', 'add', 'cli', '--config', conf, '--workload', 'sleep'])).exitCode).toBe(0)
    const fix = join(repoRoot, 'test/fixtures/bpf/arp_drop.bpf.c')
    expect((await cli(['bpf', 'build', fix, '-o', join(t.dir, 'arp.o')])).exitCode).toBe(0)
    expect((await cli(['bpf', 'load', join(t.dir, 'arp.o'), '--pin-dir', pinDir])).exitCode).toBe(0)
    expect((await cli(['bpf', 'attach', join(pinDir, 'arp_drop'), '--pod', 'web'])).exitCode).toBe(0)
    // Walked: a program left on the bridge was on no picture (only the pods' veths were drawn).
    // The port's program first: the kernel refuses XDP on a port whose bridge already has one.
    const onBridge = await cli(['bpf', 'attach', join(pinDir, 'arp_drop'), '--dev', bridge])
    expect(onBridge.exitCode, onBridge.stderr).toBe(0)

    const topo = JSON.parse((await cli(['topology', '--json'])).stdout) as Topology
    const pods = JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{
      name: string
      ip: string
      mac: string
      hostVeth: string
    }>
    const br = topo.bridges.find((b) => b.name === bridge)
    expect(br, JSON.stringify(topo)).toBeDefined()
    expect(br!.addresses).toContain('10.238.0.1/24')
    expect(br!.programs).toEqual([expect.objectContaining({hook: 'xdp', name: 'arp_drop', mode: 'generic'})])
    expect(br!.pods.map((p) => p.name).sort()).toEqual(['cli', 'web'])
    for (const p of br!.pods) {
      const listed = pods.find((x) => x.name === p.name)!
      expect([p.ip, p.mac, p.hostVeth]).toEqual([listed.ip, listed.mac, listed.hostVeth])
      expect(p.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/)
    }
    const web = br!.pods.find((p) => p.name === 'web')!
    expect(web.labels).toEqual({app: 'web'})
    expect(web.programs).toEqual([expect.objectContaining({hook: 'xdp', name: 'arp_drop'})])
    expect(br!.pods.find((p) => p.name === 'cli')!.programs).toEqual([])

    const text = await cli(['topology'])
    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`${bridge} bridge 10\\.238\\.0\\.1/24`))
    expect(text.stdout).toMatch(
      new RegExp(`${web.hostVeth} ── pod web  ${web.ip.replace(/\./g, '\\.')}  ${web.mac}  app=web`),
    )
    expect(text.stdout).toMatch(/XDP \(what the pod sends\): arp_drop \(id \d+, generic\)/)
    expect(text.stdout).toMatch(
      new RegExp(
        `^${bridge} bridge 10\\.238\\.0\\.1/24.*\n  │  XDP on the bridge \\(frames it passes up to the host, not those between its ports\\): arp_drop \\(id ${br!.programs[0].id}, generic\\)$`,
        'm',
      ),
    )
    expect((await cli(['bpf', 'detach', '--dev', bridge])).exitCode).toBe(0)
    const detached = JSON.parse((await cli(['topology', '--json'])).stdout) as Topology
    expect(detached.bridges.find((b) => b.name === bridge)!.programs).toEqual([])
    expect(text.stderr).toMatch(/same as: ip -br link show type bridge/)
  })

  // Walked: a failed ADD left bridge0 and a veth on it, and topology said "no pods: ebpfcni pod add NAME".
  it('shows a bridge without pods and a veth on a bridge that no pod owns, with how to remove it', async () => {
    const empty = `te${id}`
    const shared = `tb${id}`
    const orphan = `to${id}`
    const conf = join(t.dir, 'orphan.conflist')
    mkdirSync(join(t.dir, 'ipam2'), {recursive: true})
    const ipam = {type: 'host-local', ranges: [[{subnet: '10.239.0.0/24'}]], dataDir: join(t.dir, 'ipam2')}
    writeFileSync(
      conf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `o${id}`,
        plugins: [{type: 'bridge', bridge: shared, isGateway: true, ipam}],
      }),
    )
    try {
      await execa('ip', ['link', 'add', empty, 'type', 'bridge'])
      expect((await cli(['pod', 'add', 'lone', '--config', conf])).exitCode).toBe(0)
      // As a failed ADD leaves it: both ends on the host, one on the pod's bridge.
      await execa('ip', ['link', 'add', orphan, 'type', 'veth', 'peer', 'name', `${orphan}p`])
      await execa('ip', ['link', 'set', orphan, 'master', shared])
      const topo = JSON.parse((await cli(['topology', '--json'])).stdout) as Topology
      expect(topo.bridges.find((b) => b.name === empty)).toMatchObject({pods: [], podless: []})
      const br = topo.bridges.find((b) => b.name === shared)!
      expect(br.pods.map((p) => p.name)).toEqual(['lone'])
      expect(br.podless).toEqual([{name: orphan, kind: 'veth', peerOnHost: `${orphan}p`, up: false, programs: []}])
      const text = await cli(['topology'])
      expect(text.exitCode, text.stderr).toBe(0)
      expect(text.stdout).toMatch(new RegExp(`^${empty} bridge no address \\(down\\)\n  └─ no ports$`, 'm'))
      expect(text.stdout).toMatch(
        new RegExp(`└─ ${orphan} ── no pod \\(left over\\?\\)  its other end ${orphan}p is on the host too`),
      )
      expect(text.stdout).toContain(`remove it: ip link del ${orphan} (its other end goes with it)`)
      // A port no pod owns shows its programs too (what a failed ADD attached before it failed).
      const attach = await cli(['bpf', 'attach', join(pinDir, 'arp_drop'), '--dev', orphan])
      expect(attach.exitCode, attach.stderr).toBe(0)
      const withProg = JSON.parse((await cli(['topology', '--json'])).stdout) as Topology
      expect(withProg.bridges.find((b) => b.name === shared)!.podless[0].programs).toEqual([
        expect.objectContaining({hook: 'xdp', name: 'arp_drop'}),
      ])
      expect((await cli(['topology'])).stdout).toMatch(
        new RegExp(`${orphan} ── no pod \\(left over\\?\\).*\n\\s+XDP: arp_drop \\(id \\d+, generic\\)\n\\s+remove it`),
      )
      // Where no pod is known at all, the bridges are drawn still, not "no pods" alone.
      const none = tempStateDir()
      try {
        const bare = await cli(['topology'], {EBPFCNI_STATE_DIR: none.dir})
        expect(bare.exitCode, bare.stderr).toBe(0)
        expect(bare.stdout).toMatch(/no pods \(ebpfcni pod add NAME\); the bridges on this host:/)
        expect(bare.stdout).toMatch(new RegExp(`^${shared} bridge 10\\.239\\.0\\.1/24`, 'm'))
        expect(bare.stdout).toContain(`${orphan} ── no pod (left over?)`)
      } finally {
        none.cleanup()
      }
      expect((await cli(['pod', 'del', 'lone'])).exitCode).toBe(0)
    } finally {
      await deleteLinkQuietly(orphan)
      await deleteLinkQuietly(empty)
      await deleteLinkQuietly(shared)
    }
  }, 180_000)

  it("names every pinned map's type (the flow ring is ringbuf, not 27) and shows the ring's size", async () => {
    // topology reads the labs' pin root: lab 4's program pinned there, and removed after.
    const root = '/sys/fs/bpf/ebpfcni'
    expect(existsSync(root), `${root} exists: a lab is in progress (ebpfcni reset --all removes it)`).toBe(false)
    const obj = join(t.dir, 'np.o')
    const src = join(repoRoot, 'labs/04-security-policy/solution/networkpolicy/ebpfcni.bpf.c')
    expect((await cli(['bpf', 'build', src, '-o', obj])).exitCode).toBe(0)
    try {
      const loaded = await cli(['bpf', 'load', obj, '--pin-dir', root])
      expect(loaded.exitCode, loaded.stderr).toBe(0)
      const topo = JSON.parse((await cli(['topology', '--json'])).stdout) as Topology
      expect(topo.maps.find((m) => m.name === 'flow_events')).toMatchObject({type: 'ringbuf', maxEntries: 262144})
      expect(
        topo.maps.filter((m) => /^\d+$|^type /.test(m.type)),
        'maps without a type name',
      ).toEqual([])
      const text = await cli(['topology'])
      expect(text.exitCode, text.stderr).toBe(0)
      expect(text.stdout).toMatch(/flow_events\s+ringbuf\s+256 KiB ring/)
      expect(text.stdout).toMatch(/policy_ports\s+hash\s+0\/65536 entries/)
    } finally {
      await execa('rm', ['-rf', root], {reject: false, timeout: 10_000})
    }
  })

  it('leaves nothing once the pods are reset', async () => {
    expect((await cli(['reset', '--all', '--yes'])).exitCode).toBe(0)
    await execa('rm', ['-rf', pinDir], {reject: false})
    await deleteLinkQuietly(bridge) // Debian's bridge plugin's, which no DEL removes
    expect(await hostSnapshot()).toEqual(before)
  })
})
