import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireRoot, uniq} from '../helpers/env.js'
import {buildBpf} from '../../src/bpf/build.js'
import {iproute2BpffsMadeHere} from '../helpers/iproute2-bpffs.js'
import {loadAndPin} from '../../src/bpf/programs.js'
import {readCounterMap} from '../../src/bpf/counters.js'
import {Ledger} from '../../src/host/ledger.js'

// Claims the step texts make about the kernel, shown on this machine (issue: "every sentence true").

describe('what the step texts claim about the kernel', () => {
  const t = tempStateDir('ebpfcni-claims-')
  const id = uniq()
  const ns = `ebpfclaim${id}`
  const host = `vcl${id}`
  const sh = (cmd: string, args: string[]) => execa(cmd, args, {reject: false, timeout: 20_000})
  // COUNT pings from the pod to the host end (10.253.9.1), 0.2 s apart, each given 1 s.
  const pingFromPod = (count: number) =>
    sh('nsenter', [`--net=/run/netns/${ns}`, 'ping', '-c', String(count), '-i', '0.2', '-W', '1', '-q', '10.253.9.1'])
  // `ip link set … obj` below makes iproute2's /sys/fs/bpf/{tc,tc/globals,ip,xdp} when missing.
  let removeIproute2Bpffs = (): void => {}
  const pinDir = `/sys/fs/bpf/ebpfcni-claim${id}`

  beforeAll(async () => {
    requireRoot()
    removeIproute2Bpffs = iproute2BpffsMadeHere()
    await sh('ip', ['netns', 'add', ns])
    await sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
    await sh('ip', ['addr', 'add', '10.253.9.1/24', 'dev', host])
    await sh('ip', ['link', 'set', host, 'up'])
    await sh('ip', ['-n', ns, 'addr', 'add', '10.253.9.2/24', 'dev', 'eth0'])
    await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up'])
  })
  afterAll(async () => {
    await sh('ip', ['link', 'del', host])
    await sh('ip', ['netns', 'del', ns])
    t.cleanup()
    rmSync(pinDir, {recursive: true, force: true})
    removeIproute2Bpffs()
  })

  it("native XDP on a pod's host veth sees what the pod sends, with no program on the pod's end (lab 2, attach)", async () => {
    const built = await buildBpf(join(repoRoot, 'test/fixtures/bpf/count_frames.bpf.c'), join(t.dir, 'count.o'))
    expect(built.ok, built.problem).toBe(true)
    const attach = await sh('ip', ['link', 'set', 'dev', host, 'xdpdrv', 'obj', built.object, 'sec', 'xdp'])
    expect(attach.exitCode, attach.stderr).toBe(0)
    // The pod end keeps the kernel's defaults (TSO and GRO as veth sets them) and no program.
    const ping = await pingFromPod(5)
    expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0)
    const dump = await sh('bpftool', ['map', 'dump', 'name', 'seen_frames', '-j'])
    expect(dump.exitCode, dump.stderr).toBe(0)
    const value = (JSON.parse(dump.stdout) as Array<{value: string[] | number}>)[0].value
    const frames = Array.isArray(value) ? Number.parseInt([...value].reverse().join('').replace(/0x/g, ''), 16) : value
    // 5 echo requests at least (and the ARP that came first): every one went through the native hook.
    expect(frames).toBeGreaterThanOrEqual(5)
    const mode = await sh('ip', ['-d', '-j', 'link', 'show', 'dev', host])
    expect(JSON.parse(mode.stdout)[0].xdp?.mode).toBe(1) // 1: native (driver) mode, not generic
  })
  it("bpf load --replace gives a veth that ran the old program the new one, counting into the new map when the map's shape changes (lab 2 trace, lab 3 metrics and percpu)", async () => {
    const ledger = new Ledger(join(t.dir, 'ledger.json'))
    const build = async (step: string) => {
      const b = await buildBpf(
        join(repoRoot, `labs/03-maps-monitoring/solution/${step}/ebpfcni.bpf.c`),
        join(t.dir, `${step}.o`),
      )
      expect(b.ok, b.problem).toBe(true)
      return b.object
    }
    const [shared, perCpu] = [await build('counter'), await build('percpu')]
    expect(loadAndPin(shared, {pinDir, ledger}).ok).toBe(true)
    // As a pod's ADD does: the pinned program on its host veth, generic mode (no other XDP program there).
    await sh('ip', ['link', 'set', 'dev', host, 'xdp', 'off'])
    const attach = await sh('ip', ['link', 'set', 'dev', host, 'xdpgeneric', 'pinned', join(pinDir, 'xdp_prog')])
    expect(attach.exitCode, attach.stderr).toBe(0)
    const ping = async () => {
      const r = await pingFromPod(3)
      expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    }
    await ping()
    expect(readCounterMap(join(pinDir, 'counter')).counts.get('10.253.9.2')).toBeGreaterThanOrEqual(3n)
    // Step percpu: the map changes shape, so --replace pins a new, empty one.
    const r = loadAndPin(perCpu, {pinDir, ledger, replace: true})
    expect(r.ok).toBe(true)
    expect(r.reattached).toEqual([expect.objectContaining({dev: host, program: 'xdp_prog'})])
    const now = readCounterMap(join(pinDir, 'counter'))
    expect(now.perCpu).toBe(true)
    expect(now.counts.get('10.253.9.2') ?? 0n).toBeLessThan(3n) // the new map: not the old one's count
    await ping()
    // The veth made before the reload counts into the new map: it runs the new program.
    expect(readCounterMap(join(pinDir, 'counter')).counts.get('10.253.9.2')).toBeGreaterThanOrEqual(3n)
    await sh('ip', ['link', 'set', 'dev', host, 'xdpgeneric', 'off'])
  })

  it("a VXLAN device without dstport uses the kernel's default, 8472, and on a 1500-byte eth0 it gets MTU 1450 (lab 5, overlay)", async () => {
    const add = await sh('ip', [
      '-n',
      ns,
      'link',
      'add',
      'vxclaim',
      'type',
      'vxlan',
      'id',
      '7',
      'local',
      '10.253.9.2',
      'dev',
      'eth0',
    ])
    expect(add.exitCode, add.stderr).toBe(0)
    const info = JSON.parse((await sh('ip', ['-n', ns, '-d', '-j', 'link', 'show', 'dev', 'vxclaim'])).stdout)[0] as {
      mtu: number
      linkinfo: {info_data: {port: number}}
    }
    expect(info.linkinfo.info_data.port).toBe(8472)
    // 1500 minus the 50 bytes VXLAN adds: outer IPv4 20, UDP 8, VXLAN 8, the inner Ethernet header 14.
    expect(info.mtu).toBe(1500 - (20 + 8 + 8 + 14))
  })

  it("a new network namespace copies the host's net.ipv4.ip_forward, not the namespace it was made from (lab 5, routes)", async () => {
    // devconf_inherit_init_net 0 (the default) and 1: a new netns takes init_net's IPv4 devconf,
    // ip_forward (conf/all/forwarding) with it; 2 would reset it to the kernel's defaults.
    const inherit = readFileSync('/proc/sys/net/core/devconf_inherit_init_net', 'utf8').trim()
    expect(['0', '1']).toContain(inherit)
    const host = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()
    const read = async (via: string[]) => {
      const r = await sh(via[0], [...via.slice(1), 'sysctl', '-n', 'net.ipv4.ip_forward'])
      expect(r.exitCode, r.stderr).toBe(0)
      return r.stdout.trim()
    }
    const inNs = ['nsenter', `--net=/run/netns/${ns}`]
    // The namespace this file made copied the host's value when it was made.
    expect(await read(inNs)).toBe(host)
    // Set that one to the other value, then make a namespace from inside it: the new one has the
    // host's value again, so a node's forwarding is whatever the host had, unless someone sets it.
    const other = host === '1' ? '0' : '1'
    const set = await sh('nsenter', [`--net=/run/netns/${ns}`, 'sysctl', '-qw', `net.ipv4.ip_forward=${other}`])
    expect(set.exitCode, set.stderr).toBe(0)
    expect(await read(inNs)).toBe(other)
    expect(await read([...inNs, 'unshare', '--net'])).toBe(host)
    expect(await read(['unshare', '--net'])).toBe(host)
  })
})
