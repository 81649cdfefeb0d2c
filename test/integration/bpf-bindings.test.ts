import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdtempSync, rmSync, mkdirSync, existsSync, copyFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {buildBpf} from '../../src/bpf/build.js'
import {BpfObject, objGet, objKind, testRun} from '../../src/bpf/object.js'
import {closeFd, ffi, libbpfVersion} from '../../src/bpf/ffi.js'
import {mapInfo, mapDump, mapLookup, mapUpdate, mapDelete} from '../../src/bpf/map-ops.js'
import {xdpAttach, xdpDetach, xdpQueryId, XDP_FLAGS, tcAttach, tcDetach, tcHookDestroy} from '../../src/bpf/attach.js'
import {explainVerifierLog} from '../../src/bpf/verifier.js'
import {BtfDecoder} from '../../src/bpf/btf.js'
import {link} from '../../src/net/ip.js'
import {repoRoot, requireRoot, uniq} from '../helpers/env.js'

const FIX = join(repoRoot, 'test/fixtures/bpf')

/** An Ethernet frame with the given ethertype, padded to 60 bytes. */
const frame = (ethertype: number, len = 60): Buffer => {
  const f = Buffer.alloc(len)
  if (len >= 14) f.writeUInt16BE(ethertype, 12)
  return f
}

describe('the C structs as koffi lays them out', () => {
  // The sizes libbpf 1.1 and linux/bpf.h give on 64-bit: the opts structs are passed with sz set
  // from these, and a wrong size is refused by libbpf (or silently truncates bpf_map_info).
  it("bpf_tc_hook 24, bpf_tc_opts 32, bpf_map_batch_opts 24 bytes; bpf_map_info's btf_id at 64, its name at 24", () => {
    const s = ffi().structs
    expect([s.tcHook.size, s.tcOpts.size, s.batchOpts.size]).toEqual([24, 32, 24])
    expect([
      s.mapInfo.offset('name'),
      s.mapInfo.offset('btf_id'),
      s.mapInfo.offset('btf_key_type_id'),
      s.mapInfo.offset('btf_value_type_id'),
    ]).toEqual([24, 64, 68, 72])
  })
})

describe('BPF through libbpf (koffi): build, load, pin, test-run, XDP attach, maps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-bpf-'))
  const id = uniq()
  const pinDir = `/sys/fs/bpf/ebpfcni-test-${id}`
  const veth = `xb${id}`

  beforeAll(() => {
    requireRoot()
    mkdirSync(pinDir, {recursive: true})
  })
  afterAll(async () => {
    await execa('ip', ['link', 'del', veth], {reject: false})
    rmSync(pinDir, {recursive: true, force: true})
    rmSync(dir, {recursive: true, force: true})
  })

  it('builds with clang and reports diagnostics with file:line:col and the caret', async () => {
    expect(libbpfVersion()).toMatch(/^1\.\d+$/)
    const good = await buildBpf(join(FIX, 'arp_drop.bpf.c'), join(dir, 'arp_drop.o'))
    expect(good.ok, good.problem).toBe(true)
    expect(existsSync(good.object)).toBe(true)
    copyFileSync(join(FIX, 'syntax_error.bpf.c'), join(dir, 'syntax_error.bpf.c'))
    const bad = await buildBpf(join(dir, 'syntax_error.bpf.c'))
    expect(bad.ok).toBe(false)
    expect(bad.errors).toBe(1)
    expect(bad.diagnostics[0]).toMatchObject({
      line: 5,
      severity: 'error',
      message: "expected ';' after return statement",
    })
    expect(bad.diagnostics[0].snippet[1]).toMatch(/\^/)
  })

  it('loads, pins program and map, test-runs frames, and reads/writes the map', async () => {
    const obj = BpfObject.open(join(dir, 'arp_drop.o'))
    const loaded = obj.load()
    expect(loaded.ok).toBe(true)
    expect(obj.programs().map((p) => p.name)).toEqual(['arp_drop'])
    expect(obj.maps().map((m) => m.name)).toEqual(['by_proto'])
    obj.pinProgram('arp_drop', join(pinDir, 'prog'))
    obj.pinMap('by_proto', join(pinDir, 'by_proto'))
    obj.close()

    const prog = objGet(join(pinDir, 'prog'))
    expect(objKind(prog)).toBe('program')
    expect(() => mapInfo(prog)).toThrow(/not a BPF map/)
    expect(testRun(prog, frame(0x0806)).retval).toBe(1) // XDP_DROP
    expect(testRun(prog, frame(0x0800)).retval).toBe(2) // XDP_PASS
    expect(testRun(prog, frame(0x86dd)).retval).toBe(2)
    expect(() => testRun(prog, frame(0x0800, 10))).toThrow(/EINVAL/) // the kernel refuses frames under 14 bytes
    closeFd(prog)

    const map = objGet(join(pinDir, 'by_proto'))
    const info = mapInfo(map)
    expect(info).toMatchObject({type: 1, keySize: 4, valueSize: 8, maxEntries: 16, name: 'by_proto'})
    const key = (n: number) => Buffer.from(new Uint32Array([n]).buffer)
    expect(mapLookup(map, key(0x0806), 8)?.readBigUInt64LE()).toBe(1n)
    expect(mapLookup(map, key(0x0800), 8)?.readBigUInt64LE()).toBe(1n)
    mapUpdate(map, key(7), Buffer.from(new BigUint64Array([42n]).buffer))
    const dump = mapDump(map, info)
    expect(dump.map((e) => e.key.readUInt32LE()).sort((a, b) => a - b)).toEqual([7, 0x0800, 0x0806, 0x86dd])
    expect(mapDelete(map, key(7))).toBe(true)
    expect(mapDelete(map, key(7))).toBe(false)
    expect(mapLookup(map, key(7), 8)).toBeUndefined()
    closeFd(map)
  })

  it('attaches XDP in generic mode to a veth, queries it, and detaches', async () => {
    await execa('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`])
    const ifindex = (await link(veth))!.ifindex
    const prog = objGet(join(pinDir, 'prog'))
    xdpAttach(ifindex, prog, XDP_FLAGS.SKB_MODE)
    const attachedId = xdpQueryId(ifindex, XDP_FLAGS.SKB_MODE)
    expect(attachedId).toBeGreaterThan(0)
    expect((await link(veth))?.xdp?.prog?.id ?? (await link(veth))?.xdp?.attached?.[0]?.prog.id).toBe(attachedId)
    xdpDetach(ifindex, XDP_FLAGS.SKB_MODE)
    expect(xdpQueryId(ifindex, XDP_FLAGS.SKB_MODE)).toBe(0)
    closeFd(prog)
  })

  it('attaches a TC program to clsact egress, counts real packets, detaches and removes clsact', async () => {
    const built = await buildBpf(join(FIX, 'tc_count.bpf.c'), join(dir, 'tc.o'))
    expect(built.ok, built.problem).toBe(true)
    const obj = BpfObject.open(built.object)
    expect(obj.load().ok).toBe(true)
    const prog = obj.programs()[0].fd
    const seen = obj.maps()[0].fd
    await execa('ip', ['link', 'set', veth, 'up'])
    await execa('ip', ['link', 'set', `${veth}p`, 'up'])
    const ifindex = (await link(veth))!.ifindex
    expect(tcAttach(ifindex, 'egress', prog)).toBeGreaterThan(0)
    expect((await execa('tc', ['filter', 'show', 'dev', veth, 'egress'])).stdout).toMatch(/tc_count/)
    await execa('ip', ['addr', 'add', '10.241.0.1/30', 'dev', veth])
    await execa('ping', ['-c', '2', '-W', '1', '-I', veth, '10.241.0.2'], {reject: false}) // unanswered; the ARP requests still leave
    expect(mapLookup(seen, Buffer.alloc(4), 8)!.readBigUInt64LE()).toBeGreaterThan(0n)
    tcDetach(ifindex, 'egress')
    expect((await execa('tc', ['filter', 'show', 'dev', veth, 'egress'])).stdout).not.toMatch(/tc_count/)
    tcHookDestroy(ifindex)
    expect((await execa('tc', ['qdisc', 'show', 'dev', veth])).stdout).not.toMatch(/clsact/)
    obj.close()
  })

  it("decodes map keys and values through the map's BTF: struct fields by name, __be32 dotted", async () => {
    const built = await buildBpf(join(FIX, 'pairs.bpf.c'), join(dir, 'pairs.o'))
    expect(built.ok, built.problem).toBe(true)
    const obj = BpfObject.open(built.object)
    expect(obj.load().ok).toBe(true)
    const fd = obj.maps()[0].fd
    const key = Buffer.from([10, 0, 0, 1, 10, 0, 0, 2])
    const value = Buffer.alloc(24)
    value.writeBigUInt64LE(5n, 0)
    value.writeBigUInt64LE(1500n, 8)
    value.writeInt32LE(-1, 16)
    value.set([1, 2, 3, 4], 20)
    mapUpdate(fd, key, value)
    const info = mapInfo(fd)
    expect(info.btfId).toBeGreaterThan(0)
    const btf = BtfDecoder.load(info.btfId)!
    const [entry] = mapDump(fd, info)
    expect(btf.decoder(info.btfKeyTypeId, info.name)(entry.key, 0)).toEqual({saddr: '10.0.0.1', daddr: '10.0.0.2'})
    expect(btf.decoder(info.btfValueTypeId)(entry.value, 0)).toEqual({
      packets: 5n,
      bytes: 1500n,
      verdict: -1,
      tag: [1, 2, 3, 4],
    })
    btf.close()
    obj.close()
  })

  it('a program without a bounds check is refused, with the source line and an explanation', async () => {
    const built = await buildBpf(join(FIX, 'no_bounds_check.bpf.c'), join(dir, 'nb.o'))
    expect(built.ok).toBe(true)
    const obj = BpfObject.open(built.object)
    const r = obj.load()
    obj.close()
    expect(r.ok).toBe(false)
    if (r.ok) return
    const report = explainVerifierLog(r.log)
    expect(report.lastLines.join('\n')).toMatch(/invalid access to packet/)
    expect(report.source).toMatchObject({file: expect.stringMatching(/no_bounds_check\.bpf\.c$/), line: 7})
    expect(report.source?.text).toContain('eth->h_proto')
    expect(report.explanation).toMatch(/bounds check/)
  })
})
