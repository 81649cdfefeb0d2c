#!/usr/bin/env node
// Datapath benchmark (prints figures; not a test): TCP throughput pod -> pod with iperf3 inside the
// pods' netns, with nothing attached vs the lab 2 solution on both host veths (printk off, then on)
// vs lab 4's programs (xdp_prog on the senders' veths, to_pod with conntrack on the receivers'; the
// ip-pair and identity designs, the server isolated and 1,000 more rules in the maps), and each
// program's ns per packet from the kernel's BPF stats (kernel.bpf_stats_enabled).
// Usage (root): node scripts/bench-datapath.mjs [--seconds 4] [--runs 3]
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (n, d) => (process.argv.includes(`--${n}`) ? Number(process.argv[process.argv.indexOf(`--${n}`) + 1]) : d)
const SECONDS = arg('seconds', 4)
const RUNS = arg('runs', 3)
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-benchdp-'))
process.env.EBPFCNI_STATE_DIR = state
const {NetnsRuntime} = await import(join(root, 'dist/pods/netns-runtime.js'))
const {Ledger} = await import(join(root, 'dist/host/ledger.js'))
const {hostPeer} = await import(join(root, 'dist/net/ip.js'))
const {buildBpf} = await import(join(root, 'dist/bpf/build.js'))
const {BpfObject} = await import(join(root, 'dist/bpf/object.js'))
const {xdpAttach, xdpDetach, tcAttach, tcHookDestroy, XDP_FLAGS} = await import(join(root, 'dist/bpf/attach.js'))
const {mapUpdate} = await import(join(root, 'dist/bpf/map-ops.js'))

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rt = new NetnsRuntime(new Ledger())
const conf = join(state, 'net.conflist')
writeFileSync(
  conf,
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'benchdp',
    plugins: [
      {
        type: 'bridge',
        bridge: 'benchdp0',
        isGateway: true,
        ipMasq: false,
        ipam: {type: 'host-local', ranges: [[{subnet: '10.240.0.0/24'}]], dataDir: join(state, 'ipam')},
      },
    ],
  }),
)
const spec = (name) => ({
  name,
  labels: {},
  workload: 'sleep',
  configFile: conf,
  cniPath: ['/usr/lib/cni'],
  timeoutMs: 10_000,
  ifname: 'eth0',
})
let server, client, iperfServer, statsBefore
try {
  statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim()
  server = await rt.add(spec('dps'))
  client = await rt.add(spec('dpc'))
  iperfServer = execa('nsenter', [`--net=${server.netnsPath}`, 'iperf3', '-s', '-B', server.ip], {reject: false})
  await new Promise((r) => setTimeout(r, 500))
  const veths = [await hostPeer(server.netnsPath, 'eth0'), await hostPeer(client.netnsPath, 'eth0')].map(
    (l) => l.ifindex,
  )

  const throughput = async () => {
    const gbps = []
    for (let i = 0; i < RUNS; i++) {
      const r = await execa(
        'nsenter',
        [`--net=${client.netnsPath}`, 'iperf3', '-c', server.ip, '-t', String(SECONDS), '-J'],
        {timeout: (SECONDS + 10) * 1000},
      )
      gbps.push(JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9)
    }
    return median(gbps)
  }

  const source = readFileSync(join(root, 'labs/02-ebpf-basics/solution/ebpfcni.bpf.c'), 'utf8')
  const lab4 = (f) => readFileSync(join(root, 'labs/04-security-policy/solution', f), 'utf8')
  const u32 = (n) => {
    const b = Buffer.alloc(4)
    b.writeUInt32LE(n)
    return b
  }
  const addr = (i) => Buffer.from([10, 200, (i >> 8) & 255, i & 255])
  const ip = (s) => Buffer.from(s.split('.').map(Number))
  const byName = (obj) => Object.fromEntries(obj.maps().map((m) => [m.name, m.fd]))
  // The server is isolated and admits the client; 1,000 more rules between addresses no pod has
  // fill the maps, so every lookup is in a populated hash.
  const fillPairs = (obj) => {
    const m = byName(obj)
    for (let i = 0; i < 1000; i++) mapUpdate(m.policy, Buffer.concat([addr(i), addr(i + 1000)]), u32(1))
    mapUpdate(m.policy, Buffer.concat([ip(client.ip), ip(server.ip)]), u32(2))
    mapUpdate(m.isolated, ip(server.ip), u32(1))
  }
  const fillIdentity = (obj) => {
    const m = byName(obj)
    const rule = (peer, endpoint) => Buffer.concat([u32(peer), endpoint, Buffer.alloc(4)])
    for (let i = 0; i < 1000; i++) mapUpdate(m.endpoint_policy, rule(256 + (i % 50), addr(i)), u32(1))
    for (let i = 0; i < 1000; i++) mapUpdate(m.identity, addr(i), u32(256 + (i % 50)))
    mapUpdate(m.identity, ip(client.ip), u32(300))
    mapUpdate(m.identity, ip(server.ip), u32(301))
    mapUpdate(m.endpoint_policy, rule(300, ip(server.ip)), u32(2))
    mapUpdate(m.isolated, ip(server.ip), u32(1))
  }
  const variants = {
    'lab 2, printk off': {text: source.replace(/\tbpf_printk\([^;]*;\n/, '')},
    'lab 2, printk on': {text: source},
    'lab 4 ip-pair + conntrack': {text: lab4('networkpolicy/ebpfcni.bpf.c'), fill: fillPairs},
    'lab 4 identity + conntrack': {text: lab4('identity/ebpfcni.bpf.c'), fill: fillIdentity},
  }
  mkdirSync(join(state, 'src'))
  const results = {nothing: await throughput()}
  console.log(`TCP pod -> pod, iperf3 ${SECONDS} s, median of ${RUNS} runs (2 cores, generic XDP on veth):`)
  console.log(`  nothing attached:            ${results.nothing.toFixed(2)} Gbit/s`)
  for (const [label, {text, fill}] of Object.entries(variants)) {
    const file = join(state, 'src', `${label.replace(/\W+/g, '-')}.bpf.c`)
    writeFileSync(file, text)
    const b = await buildBpf(file)
    if (!b.ok) throw new Error(`building ${label}: ${b.problem ?? b.diagnostics[0]?.message}`)
    const obj = BpfObject.open(b.object)
    if (!obj.load().ok) throw new Error(`loading ${label} failed`)
    fill?.(obj)
    // The reference is measured right before each variant: throughput drifts over a run.
    const reference = await throughput()
    const progs = obj.programs()
    const xdp = progs.find((p) => p.name === 'xdp_prog').fd
    const toPod = progs.find((p) => p.name === 'to_pod')?.fd
    for (const ix of veths) {
      xdpAttach(ix, xdp, XDP_FLAGS.SKB_MODE)
      if (toPod !== undefined) tcAttach(ix, 'egress', toPod)
    }
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1\n')
    const gbps = await throughput()
    const nsPerPacket = (fd) => {
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
      const num = (k) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(info)?.[1] ?? 0)
      return `${(num('run_cnt') ? num('run_time_ns') / num('run_cnt') : NaN).toFixed(0)} ns/packet over ${num('run_cnt')}`
    }
    const stats = [
      `xdp_prog ${nsPerPacket(xdp)}`,
      ...(toPod !== undefined ? [`to_pod ${nsPerPacket(toPod)}`] : []),
    ].join(', ')
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', `${statsBefore}\n`)
    for (const ix of veths) {
      xdpDetach(ix, XDP_FLAGS.SKB_MODE)
      if (toPod !== undefined) tcHookDestroy(ix)
    }
    obj.close()
    console.log(
      `  ${label.padEnd(27)}  ${gbps.toFixed(2)} Gbit/s  ratio ${(gbps / reference).toFixed(3)} (vs ${reference.toFixed(2)} just before)  ${stats}`,
    )
  }
  console.log('  (goals: ratio >= 0.90 with printk off, and for lab 4 with 1,000 rules)')
} finally {
  if (statsBefore !== undefined) writeFileSync('/proc/sys/kernel/bpf_stats_enabled', `${statsBefore}\n`)
  iperfServer?.kill('SIGKILL')
  for (const p of [client, server]) if (p) await rt.remove(p).catch(() => undefined)
  await execa('ip', ['link', 'del', 'benchdp0'], {reject: false})
  rmSync(state, {recursive: true, force: true})
}
