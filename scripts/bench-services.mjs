#!/usr/bin/env node
// Services benchmark (prints figures; not a test): the same N HTTP requests (300 by default), each on
// a connection of its own, from a client to a Service's VIP with 3 backends, two ways in one run:
//   (a) lab 6's socket-LB: the solution services.bpf.c, its connect4 attached to the client's cgroup;
//   (b) kube-proxy's way: iptables DNAT rules (PREROUTING -> a KUBE-SVC chain -> one DNAT per
//       backend, picked with -m statistic --mode random), built by this script in the node.
// Topology, all in network namespaces this run makes (names ebpfsvcb-<hex>-…, removed at the end and
// on Ctrl-C): a "node" namespace routing between a client and three backends, each on a veth of
// its own. The iptables rules live in the node's namespace only (the host's rules are not touched).
// Figures per way: packets addressed to the VIP that reached the node from the client (an iptables
// raw-table counter on the client's veth), conntrack entries in the node (/proc/net/nf_conntrack
// inside it: all, and those naming the VIP), connect() latency p50 and p99, and the spread.
// Usage (root): node scripts/bench-services.mjs [--requests 300]
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {randomBytes} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, existsSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (n, d) => (process.argv.includes(`--${n}`) ? Number(process.argv[process.argv.indexOf(`--${n}`) + 1]) : d)
const N = arg('requests', 300)
const {buildBpf} = await import(join(root, 'dist/bpf/build.js'))
const {BpfObject} = await import(join(root, 'dist/bpf/object.js'))
const {cgroupAttach} = await import(join(root, 'dist/bpf/attach.js'))
const {mapUpdate} = await import(join(root, 'dist/bpf/map-ops.js'))
const {addrKey, u32le} = await import(join(root, 'dist/labs/06-services/services.js'))
const {CGROUP_PREFIX, cgroup2Root} = await import(join(root, 'dist/labs/06-services/cgroups.js'))

const tag = `ebpfsvcb-${randomBytes(2).toString('hex')}`
const ns = {node: `${tag}-node`, client: `${tag}-cl`, backends: [1, 2, 3].map((i) => `${tag}-b${i}`)}
const VIP = '10.96.77.10'
const PORT = 80
const TARGET = 8080
const clientIp = '10.77.0.2'
const backendIp = (i) => `10.77.${i + 1}.2`
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-benchsvc-'))
const cgroupRoot = cgroup2Root()
const cgroup = cgroupRoot ? join(cgroupRoot, `${CGROUP_PREFIX}bench-${process.pid}`) : undefined
const made = []
const servers = []
let obj

const sh = (cmd, args, timeout = 10_000) => execa(cmd, args, {timeout})
const inNs = (name, cmd, args, timeout = 10_000) => sh('nsenter', [`--net=/run/netns/${name}`, cmd, ...args], timeout)

let cleaning
function cleanup() {
  cleaning ??= (async () => {
    for (const s of servers) s.kill('SIGKILL')
    obj?.close()
    if (cgroup && existsSync(cgroup)) {
      for (const d of readdirSync(cgroup, {withFileTypes: true})) if (d.isDirectory()) rmdirSync(join(cgroup, d.name))
      rmdirSync(cgroup)
    }
    // The namespaces take their veths, routes and iptables rules with them.
    for (const n of made.reverse()) await execa('ip', ['netns', 'del', n], {reject: false, timeout: 10_000})
    rmSync(state, {recursive: true, force: true})
  })()
  return cleaning
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => void cleanup().then(() => process.exit(130)))

const SERVER = `
const name = process.argv[1]
require('http').createServer((q, r) => r.end('pod=' + name + '\\n')).listen(${TARGET}, '0.0.0.0', () => console.log('ready'))
`
// The client: N requests one after the other, each on a connection of its own (HTTP/1.0);
// connect latency is from net.connect() to the 'connect' event. It moves itself into argv[1]'s
// cgroup first when one is given.
const CLIENT = `
const [procs, host, port, n] = process.argv.slice(1)
if (procs) require('fs').writeFileSync(procs, String(process.pid))
const net = require('net')
const lat = [], by = {}, errors = {}
const one = () => new Promise((resolve) => {
  let body = '', done = false
  const finish = (err) => { if (done) return; done = true; if (err) errors[err] = (errors[err] || 0) + 1; resolve() }
  const t0 = process.hrtime.bigint()
  const s = net.connect({host, port: Number(port)})
  s.setTimeout(2000)
  s.on('connect', () => { lat.push(Number(process.hrtime.bigint() - t0) / 1000); s.write('GET / HTTP/1.0\\r\\n\\r\\n') })
  s.on('data', (d) => (body += d))
  s.on('end', () => { const m = /pod=(\\S+)/.exec(body); if (m) by[m[1]] = (by[m[1]] || 0) + 1; finish(m ? undefined : 'no answer') })
  s.on('timeout', () => { s.destroy(); finish('timeout') })
  s.on('error', (e) => finish(e.code || e.message))
})
;(async () => { for (let i = 0; i < Number(n); i++) await one(); console.log(JSON.stringify({lat, by, errors})) })()
`

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
/** Packets the raw-table counter saw addressed to the VIP from the client's veth. */
const vipPackets = async () => {
  const r = await inNs(ns.node, 'iptables', ['-t', 'raw', '-L', 'PREROUTING', '-v', '-x', '-n'])
  const line = r.stdout.split('\n').find((l) => l.includes(VIP))
  return Number(line?.trim().split(/\s+/)[0] ?? NaN)
}
/** The node's conntrack entries: all, and those naming the VIP. */
const conntrack = async () => {
  const r = await inNs(ns.node, 'cat', ['/proc/net/nf_conntrack'])
  const lines = r.stdout.split('\n').filter(Boolean)
  return {all: lines.length, vip: lines.filter((l) => l.includes(`dst=${VIP} `)).length}
}
const measure = async (procs) => {
  const before = {pkts: await vipPackets(), ct: await conntrack()}
  const r = await inNs(ns.client, process.execPath, ['-e', CLIENT, procs, VIP, String(PORT), String(N)], 120_000)
  const out = JSON.parse(r.stdout)
  const ct = await conntrack()
  return {
    ...out,
    pkts: (await vipPackets()) - before.pkts,
    ct: {all: ct.all - before.ct.all, vip: ct.vip - before.ct.vip},
  }
}

try {
  if (!cgroup) throw new Error('needs the cgroup v2 hierarchy mounted (no cgroup2 in /proc/self/mountinfo)')
  // The namespaces and their links: client and backends each on a /30 of their own to the node.
  for (const n of [ns.node, ns.client, ...ns.backends]) {
    made.push(n)
    await sh('ip', ['netns', 'add', n])
    await inNs(n, 'ip', ['link', 'set', 'lo', 'up'])
  }
  await inNs(ns.node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1'])
  const link = async (peer, i, ip) => {
    await sh('ip', ['link', 'add', `v${i}`, 'netns', ns.node, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer])
    await inNs(ns.node, 'ip', ['addr', 'add', `10.77.${i}.1/30`, 'dev', `v${i}`])
    await inNs(ns.node, 'ip', ['link', 'set', `v${i}`, 'up'])
    await inNs(peer, 'ip', ['addr', 'add', `${ip}/30`, 'dev', 'eth0'])
    await inNs(peer, 'ip', ['link', 'set', 'eth0', 'up'])
    await inNs(peer, 'ip', ['route', 'add', 'default', 'via', `10.77.${i}.1`])
  }
  await link(ns.client, 0, clientIp)
  for (const [i, b] of ns.backends.entries()) await link(b, i + 1, backendIp(i))
  for (const [i, b] of ns.backends.entries()) {
    const p = execa('nsenter', [`--net=/run/netns/${b}`, process.execPath, '-e', SERVER, `b${i + 1}`], {
      timeout: 600_000,
      reject: false,
    })
    servers.push(p)
    await new Promise((resolve, reject) => {
      p.stdout.once('data', resolve)
      setTimeout(() => reject(new Error(`backend b${i + 1} did not start`)), 10_000)
    })
  }
  // The wire counter: packets from the client's veth addressed to the VIP (raw: no conntrack needed).
  await inNs(ns.node, 'iptables', ['-t', 'raw', '-A', 'PREROUTING', '-i', 'v0', '-d', VIP, '-j', 'ACCEPT'])

  // (a) socket-LB, first: the node has no NAT rule yet, so nothing in it calls for conntrack.
  const built = await buildBpf(join(root, 'labs/06-services/solution/services.bpf.c'), join(state, 'services.o'))
  if (!built.ok) throw new Error(`services.bpf.c: ${built.problem ?? built.diagnostics[0]?.message}`)
  obj = BpfObject.open(built.object)
  const loaded = obj.load()
  if (!loaded.ok) throw new Error(`services.bpf.c was refused: ${loaded.log.slice(-300)}`)
  const maps = Object.fromEntries(obj.maps().map((m) => [m.name, m.fd]))
  mapUpdate(maps.services, addrKey(VIP, PORT), u32le(0, 3))
  for (let i = 0; i < 3; i++) mapUpdate(maps.backends, u32le(0, i), addrKey(backendIp(i), TARGET))
  mkdirSync(join(cgroup, 'client'), {recursive: true})
  cgroupAttach(cgroup, 'connect4', obj.programs().find((p) => p.name === 'connect4').fd)
  const socketLb = await measure(join(cgroup, 'client', 'cgroup.procs'))

  // (b) kube-proxy's way: DNAT in the node's PREROUTING, one backend picked per new connection.
  const nat = (...a) => inNs(ns.node, 'iptables', ['-t', 'nat', ...a])
  await nat('-N', 'KUBE-SVC-BENCH')
  await nat('-A', 'PREROUTING', '-d', `${VIP}/32`, '-p', 'tcp', '--dport', String(PORT), '-j', 'KUBE-SVC-BENCH')
  const probs = ['0.33333333349', '0.50000000000']
  for (let i = 0; i < 3; i++)
    await nat(
      '-A',
      'KUBE-SVC-BENCH',
      ...(i < 2 ? ['-m', 'statistic', '--mode', 'random', '--probability', probs[i]] : []),
      '-p',
      'tcp',
      '-j',
      'DNAT',
      '--to-destination',
      `${backendIp(i)}:${TARGET}`,
    )
  const iptables = await measure('')

  const row = (label, a, b) => console.log(`  ${label.padEnd(38)} ${String(a).padStart(14)} ${String(b).padStart(14)}`)
  const us = (x) => `${x.toFixed(0)} µs`
  const answered = (m) => Object.values(m.by).reduce((a, b) => a + b, 0)
  const spread = (m) => ['b1', 'b2', 'b3'].map((b) => m.by[b] ?? 0).join('/')
  console.log(
    `Services: ${N} HTTP requests to ${VIP}:${PORT} (3 backends), each on a connection of its own, in one run`,
  )
  row('', 'iptables DNAT', 'socket-LB')
  row('answered (b1/b2/b3)', `${answered(iptables)} ${spread(iptables)}`, `${answered(socketLb)} ${spread(socketLb)}`)
  row('packets addressed to the VIP on the wire', iptables.pkts, socketLb.pkts)
  row('conntrack entries naming the VIP', iptables.ct.vip, socketLb.ct.vip)
  row('conntrack entries in the node, all', iptables.ct.all, socketLb.ct.all)
  row('connect latency p50', us(pct(iptables.lat, 50)), us(pct(socketLb.lat, 50)))
  row('connect latency p99', us(pct(iptables.lat, 99)), us(pct(socketLb.lat, 99)))
  console.log(
    `  p50 ratio iptables / socket-LB: ${(pct(iptables.lat, 50) / pct(socketLb.lat, 50)).toFixed(2)}; p99 ratio: ${(pct(iptables.lat, 99) / pct(socketLb.lat, 99)).toFixed(2)}`,
  )
  for (const [label, m] of [
    ['iptables', iptables],
    ['socket-LB', socketLb],
  ])
    if (Object.keys(m.errors).length) console.log(`  ${label} failures: ${JSON.stringify(m.errors)}`)
} finally {
  await cleanup()
}
