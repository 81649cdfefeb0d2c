import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, repoRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly} from '../helpers/host.js'
import {probeTcx} from '../../src/bpf/tcx.js'

// Issue 37, lab 5 step 5's proof, through the tool: a program attached with clsact does not survive
// a foreign agent's `tc qdisc del … clsact`; one attached through a pinned tcx link does, and two
// tcx programs on one hook run in the order their owners chose (mprog).

const FIX = join(repoRoot, 'test/fixtures/bpf')
const hasTcx = process.getuid?.() === 0 && probeTcx().ok

describe.skipIf(!hasTcx)(
  'bpf attach --tcx: a link its owner holds, against clsact under a foreign tc qdisc del',
  () => {
    const t = tempStateDir()
    const id = uniq()
    const pinDir = `/sys/fs/bpf/ebpfcni-tcx${id}`
    const ns = `tcx${id}`
    const host = `tx${id}h`
    const peer = `tx${id}p`
    const net = `198.18.${Math.floor(Math.random() * 250)}`
    const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
    const cli = cliRunner(env, 60_000)
    const sh = (cmd: string, args: string[]) => execa(cmd, args, {reject: false, timeout: 15_000})

    /** 50 pings of our own to the peer: how many replies came back (ping counts only its own). */
    const received = async (): Promise<number> => {
      const r = await sh('ping', ['-c', '50', '-i', '0.005', '-W', '1', '-q', `${net}.2`])
      const m = /(\d+) received/.exec(r.stdout)
      if (!m) throw new Error(`ping printed no summary: ${r.stdout} ${r.stderr}`)
      return Number(m[1])
    }
    const progsOn = async (): Promise<Array<{hook: string; mode: string; name?: string; id: number}>> =>
      (JSON.parse((await cli(['bpf', 'progs', '--json'])).stdout) as Array<{dev: string; hook: string; mode: string}>)
        .filter((a) => a.dev === host)
        .map(({dev: _dev, ...a}) => a) as Array<{hook: string; mode: string; name?: string; id: number}>
    const bpftoolLinkIds = async (): Promise<number[]> =>
      (JSON.parse((await sh('bpftool', ['-j', 'link', 'show'])).stdout || '[]') as Array<{id: number}>).map((l) => l.id)
    const mapCount = async (name: string): Promise<number> => {
      const r = await cli(['bpf', 'maps', name, '--pin-dir', pinDir, '--json'])
      return Number((JSON.parse(r.stdout) as {entries: Array<{value: string}>}).entries[0]?.value ?? 0)
    }

    beforeAll(async () => {
      requireRoot()
      requireBuilt()
      for (const [src, out] of [
        [join(repoRoot, 'bpf/tool/drop_all.bpf.c'), 'drop.o'],
        [join(FIX, 'count_next.bpf.c'), 'next.o'],
        [join(FIX, 'tc_count.bpf.c'), 'pass.o'],
        [join(FIX, 'arp_drop.bpf.c'), 'xdp.o'],
      ]) {
        const b = await cli(['bpf', 'build', src, '-o', join(t.dir, out)])
        expect(b.exitCode, b.stdout).toBe(0)
        const l = await cli(['bpf', 'load', join(t.dir, out), '--pin-dir', pinDir])
        expect(l.exitCode, l.stdout + l.stderr).toBe(0)
      }
      // A veth whose host end carries the programs; the peer in a netns of the test's own. Static
      // neighbours: a dropped ARP must not be what decides a probe.
      for (const args of [
        ['netns', 'add', ns],
        ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer],
        ['link', 'set', peer, 'netns', ns],
        ['addr', 'add', `${net}.1/30`, 'dev', host],
        ['link', 'set', host, 'up'],
        ['-n', ns, 'addr', 'add', `${net}.2/30`, 'dev', peer],
        ['-n', ns, 'link', 'set', peer, 'up'],
      ])
        expect((await sh('ip', args)).exitCode, args.join(' ')).toBe(0)
      const mac = async (dev: string, inNs: string[]) =>
        (JSON.parse((await sh('ip', [...inNs, '-j', 'link', 'show', dev])).stdout) as Array<{address: string}>)[0]
          .address
      await sh('ip', [
        'neigh',
        'replace',
        `${net}.2`,
        'lladdr',
        await mac(peer, ['-n', ns]),
        'dev',
        host,
        'nud',
        'permanent',
      ])
      await sh('ip', [
        '-n',
        ns,
        'neigh',
        'replace',
        `${net}.1`,
        'lladdr',
        await mac(host, []),
        'dev',
        peer,
        'nud',
        'permanent',
      ])
      expect(await received()).toBe(50)
    }, 120_000)

    /** `bpf attach PROGRAM` on the test's veth, through the CLI as typed. */
    const attach = (program: string, hook: string, extra: string[] = []) =>
      cli(['bpf', 'attach', program, '--pin-dir', pinDir, '--dev', host, '--hook', hook, ...extra])

    afterAll(async () => {
      await cli(['reset', '--yes'])
      await deleteLinkQuietly(host)
      await sh('ip', ['netns', 'del', ns])
      t.cleanup()
    })

    it('clsact: a foreign `tc qdisc del dev <veth> clsact` removes the drop, and traffic flows again', async () => {
      const a = await attach('drop_all', 'tc-egress')
      expect(a.exitCode, a.stderr).toBe(0)
      expect(await received()).toBe(0)
      expect((await sh('tc', ['qdisc', 'del', 'dev', host, 'clsact'])).exitCode).toBe(0)
      expect(await received()).toBe(50)
      expect(await progsOn()).toEqual([])
    }, 60_000)

    it('tcx: the same drop through a pinned link; the foreign qdisc del leaks 0 of 50 and bpftool still lists the link', async () => {
      const a = await attach('drop_all', 'tc-egress', ['--tcx', '--json'])
      expect(a.exitCode, a.stderr).toBe(0)
      const out = JSON.parse(a.stdout) as {mode: string; link: number; linkPin: string}
      expect(out.mode).toBe('tcx')
      expect(out.linkPin).toBe(`${pinDir}/link_tcx_egress_${host}_drop_all`)
      expect(existsSync(out.linkPin)).toBe(true)
      expect(await received()).toBe(0)
      // Another tool's clsact on the same device, and the foreign agent that deletes it.
      expect((await sh('tc', ['qdisc', 'add', 'dev', host, 'clsact'])).exitCode).toBe(0)
      expect((await sh('tc', ['qdisc', 'del', 'dev', host, 'clsact'])).exitCode).toBe(0)
      expect(await received()).toBe(0)
      expect(await bpftoolLinkIds()).toContain(out.link)
      expect(await progsOn()).toEqual([expect.objectContaining({hook: 'tc-egress', mode: 'tcx', name: 'drop_all'})])
    }, 60_000)

    it('tcx coexistence: a counter put first runs, and the drop after it still drops; a TC_ACT_OK one first ends the chain', async () => {
      const c = await attach('count_next', 'tc-egress', ['--tcx', '--first'])
      expect(c.exitCode, c.stderr).toBe(0)
      expect(c.stderr).toContain(
        `same as: bpftool net attach tcx_egress pinned ${pinDir}/count_next dev ${host} prepend`,
      )
      expect((await progsOn()).map((p) => p.name)).toEqual(['count_next', 'drop_all'])
      const before = await mapCount('next_seen')
      expect(await received()).toBe(0)
      expect((await mapCount('next_seen')) - before).toBeGreaterThanOrEqual(50)
      // tc_count returns TC_ACT_OK, which tcx reads as TCX_PASS: the packet leaves the chain there.
      const p = await attach('tc_count', 'tc-egress', ['--tcx', '--first'])
      expect(p.exitCode, p.stderr).toBe(0)
      expect((await progsOn()).map((x) => x.name)).toEqual(['tc_count', 'count_next', 'drop_all'])
      expect(await received()).toBe(50)
      // bpf detach takes every tcx link ebpfcni pinned on the hook.
      const d = await cli(['bpf', 'detach', '--dev', host, '--hook', 'tc-egress'])
      expect(d.exitCode, d.stderr).toBe(0)
      expect(d.stdout).toMatch(/detached 3 tcx egress link\(s\)/)
      expect(await progsOn()).toEqual([])
      expect(await received()).toBe(50)
    }, 60_000)

    it('broken input: --tcx with an XDP hook or an XDP program stops with what tcx takes', async () => {
      const hook = await cli(['bpf', 'attach', 'drop_all', '--pin-dir', pinDir, '--dev', host, '--tcx'])
      expect(hook.exitCode).toBe(2)
      expect(hook.stderr).toMatch(/--tcx attaches a TC program: add --hook tc-ingress or --hook tc-egress/)
      const xdp = await attach('arp_drop', 'tc-egress', ['--tcx'])
      expect(xdp.exitCode).not.toBe(0)
      expect(xdp.stdout + xdp.stderr).toMatch(/tcx takes a TC program/)
      expect(await progsOn()).toEqual([])
    }, 60_000)

    it('reset detaches and unpins the tcx links it made', async () => {
      const a = await attach('drop_all', 'tc-egress', ['--tcx', '--json'])
      const out = JSON.parse(a.stdout) as {link: number; linkPin: string}
      expect(await received()).toBe(0)
      const dry = await cli(['reset', '--dry-run'])
      expect(dry.stdout).toContain(`detach tcx egress link from ${host}`)
      const r = await cli(['reset', '--yes'])
      expect(r.exitCode, r.stdout + r.stderr).toBe(0)
      expect(existsSync(out.linkPin)).toBe(false)
      expect(await bpftoolLinkIds()).not.toContain(out.link)
      expect(await received()).toBe(50)
    }, 60_000)
  },
)
