import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {buildBpf} from '../../src/bpf/build.js'
import {BpfObject} from '../../src/bpf/object.js'
import {cgroupAttach, cgroupDetach} from '../../src/bpf/attach.js'
import {requireRoot, uniq} from '../helpers/env.js'

// The engine's cgroup attach (BPF_PROG_ATTACH to a cgroup v2 directory): a connect4 program that
// sends connects to 127.0.0.2:9 to a server on 127.0.0.1 serves a process in its cgroup, and only
// there; detached, it serves none. Loopback only.

const PROGRAM = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
volatile const __u16 to_port = 0;
SEC("cgroup/connect4")
int redirect(struct bpf_sock_addr *ctx)
{
	if (ctx->user_ip4 == bpf_htonl(0x7f000002) && ctx->user_port == bpf_htons(9)) {
		ctx->user_ip4 = bpf_htonl(0x7f000001);
		ctx->user_port = bpf_htons(to_port);
	}
	return 1;
}
char LICENSE[] SEC("license") = "GPL";
`
const XDP = `
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`

/** connect() to 127.0.0.2:9 from a process that first moves itself into `cgroup` (none: stays). */
async function connectFrom(cgroup: string | undefined): Promise<string> {
  const script = `
const [procs] = process.argv.slice(1)
if (procs) require('fs').writeFileSync(procs, String(process.pid))
const s = require('net').connect({host: '127.0.0.2', port: 9}, () => { s.on('data', (d) => { console.log('got ' + d); process.exit(0) }) })
s.on('error', (e) => { console.log(e.code); process.exit(0) })
setTimeout(() => { console.log('timeout'); process.exit(0) }, 3000)`
  const r = await execa(process.execPath, ['-e', script, cgroup ? join(cgroup, 'cgroup.procs') : ''], {timeout: 10_000})
  return r.stdout.trim()
}

function cgroup2Root(): string {
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' - ')[1]?.startsWith('cgroup2 '))
  if (!line) throw new Error('no cgroup2 mount')
  return line.split(' - ')[0].split(' ')[4]
}

describe('cgroup programs: attach connect4 to a cgroup v2 directory, detach it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-cgroup-'))
  let cg = ''
  let server: Server
  let port = 0
  const objects: BpfObject[] = []

  beforeAll(async () => {
    requireRoot()
    cg = join(cgroup2Root(), `ebpfcni-test-${uniq()}`)
    mkdirSync(cg)
    server = createServer((s) => s.end('hello'))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as {port: number}).port
  })
  afterAll(async () => {
    server?.close()
    for (const o of objects) o.close()
    if (cg) rmdirSync(cg)
    rmSync(dir, {recursive: true, force: true})
  })

  it('serves a process in the cgroup, not one outside it, and none once detached', async () => {
    writeFileSync(join(dir, 'redirect.bpf.c'), PROGRAM.replace('to_port = 0', `to_port = ${port}`))
    const built = await buildBpf(join(dir, 'redirect.bpf.c'), join(dir, 'redirect.o'))
    expect(built.ok, built.problem ?? JSON.stringify(built.diagnostics)).toBe(true)
    const obj = BpfObject.open(built.object)
    objects.push(obj)
    expect(obj.load()).toEqual({ok: true})
    const fd = obj.programs()[0].fd
    cgroupAttach(cg, 'connect4', fd)
    try {
      expect(await connectFrom(cg)).toBe('got hello')
      expect(await connectFrom(undefined)).toBe('ECONNREFUSED')
    } finally {
      cgroupDetach(cg, 'connect4', fd)
    }
    expect(await connectFrom(cg)).toBe('ECONNREFUSED')
  })

  it('refuses, with the hook and the cgroup named, a program that is not a connect4 one', async () => {
    writeFileSync(join(dir, 'pass.bpf.c'), XDP)
    const built = await buildBpf(join(dir, 'pass.bpf.c'), join(dir, 'pass.o'))
    const obj = BpfObject.open(built.object)
    objects.push(obj)
    expect(obj.load()).toEqual({ok: true})
    expect(() => cgroupAttach(cg, 'connect4', obj.programs()[0].fd)).toThrow(
      new RegExp(`attaching connect4 to the cgroup ${cg}: EINVAL`),
    )
    expect(() => cgroupAttach(join(cg, 'missing'), 'connect4', obj.programs()[0].fd)).toThrow(/ENOENT/)
  })
})
