#!/usr/bin/env node
// Datapath benchmark (prints figures; not a test): TCP throughput pod -> pod with iperf3 inside the
// pods' netns, with nothing attached vs the lab 2 solution on both host veths (printk off, then on)
// vs lab 4's programs (ip-pair with NetworkPolicy isolation, and identity) holding 1,000 rules,
// and each program's ns per packet from the kernel's BPF stats (kernel.bpf_stats_enabled).
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
const {BpfObject, xdpAttach, xdpDetach, mapUpdate, XDP_FLAGS} = await import(join(root, 'dist/bpf/libbpf.js'))

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const rt = new NetnsRuntime(new Ledger())
const conf = join(state, 'net.conflist')
writeFileSync(conf, JSON.stringify({cniVersion: '1.0.0', name: 'benchdp', plugins: [{type: 'bridge', bridge: 'benchdp0', isGateway: true, ipMasq: false, ipam: {type: 'host-local', ranges: [[{subnet: '10.240.0.0/24'}]], dataDir: join(state, 'ipam')}}]}))
const spec = (name) => ({name, labels: {}, workload: 'sleep', configFile: conf, cniPath: ['/usr/lib/cni'], timeoutMs: 10_000, ifname: 'eth0'})
let server, client, iperfServer, statsBefore
try {
  statsBefore = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim()
  server = await rt.add(spec('dps'))
  client = await rt.add(spec('dpc'))
  iperfServer = execa('nsenter', [`--net=${server.netnsPath}`, 'iperf3', '-s', '-B', server.ip], {reject: false})
  await new Promise((r) => setTimeout(r, 500))
  const veths = [await hostPeer(server.netnsPath, 'eth0'), await hostPeer(client.netnsPath, 'eth0')].map((l) => l.ifindex)

  const throughput = async () => {
    const gbps = []
    for (let i = 0; i < RUNS; i++) {
      const r = await execa('nsenter', [`--net=${client.netnsPath}`, 'iperf3', '-c', server.ip, '-t', String(SECONDS), '-J'], {timeout: (SECONDS + 10) * 1000})
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
  // 1,000 deny rules between addresses no pod has: every packet pays for lookups in a full map.
  const fillPairs = (obj) => {
    const fd = obj.maps().find((m) => m.name === 'policy').fd
    for (let i = 0; i < 1000; i++) mapUpdate(fd, Buffer.concat([addr(i), addr(i + 1000)]), u32(1))
  }
  const fillIdentity = (obj) => {
    const maps = Object.fromEntries(obj.maps().map((m) => [m.name, m.fd]))
    for (let i = 0; i < 1000; i++) mapUpdate(maps.identity_policy, Buffer.concat([u32(100 + i), u32(2000 + i)]), u32(1))
    for (let i = 0; i < 1000; i++) mapUpdate(maps.identity, addr(i), u32(100 + (i % 50)))
  }
  const variants = {
    'lab 2, printk off': {text: source.replace(/\tbpf_printk\([^;]*;\n/, '')},
    'lab 2, printk on': {text: source},
    'lab 4 ip-pair, 1000 rules': {text: lab4('networkpolicy/ebpfcni.bpf.c'), fill: fillPairs},
    'lab 4 identity, 1000 rules': {text: lab4('ebpfcni.bpf.c'), fill: fillIdentity},
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
    const fd = obj.programs()[0].fd
    for (const ix of veths) xdpAttach(ix, fd, XDP_FLAGS.SKB_MODE)
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', '1\n')
    const gbps = await throughput()
    const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
    writeFileSync('/proc/sys/kernel/bpf_stats_enabled', `${statsBefore}\n`)
    const num = (k) => Number(new RegExp(`^${k}:\\s*(\\d+)`, 'm').exec(info)?.[1] ?? 0)
    const ns = num('run_cnt') ? num('run_time_ns') / num('run_cnt') : NaN
    for (const ix of veths) xdpDetach(ix, XDP_FLAGS.SKB_MODE)
    obj.close()
    console.log(`  ${label.padEnd(27)}  ${gbps.toFixed(2)} Gbit/s  ratio ${(gbps / reference).toFixed(3)} (vs ${reference.toFixed(2)} just before)  ${ns.toFixed(0)} ns/packet over ${num('run_cnt')} packets`)
  }
  console.log('  (goals: ratio >= 0.90 with printk off, and for lab 4 with 1,000 rules)')
} finally {
  if (statsBefore !== undefined) writeFileSync('/proc/sys/kernel/bpf_stats_enabled', `${statsBefore}\n`)
  iperfServer?.kill('SIGKILL')
  for (const p of [client, server]) if (p) await rt.remove(p).catch(() => undefined)
  await execa('ip', ['link', 'del', 'benchdp0'], {reject: false})
  rmSync(state, {recursive: true, force: true})
}
