#!/usr/bin/env node
// Lab 5's forwarding paths, measured (prints figures; not a test): pod-to-pod TCP throughput
// (iperf3, 3 s) and latency (ping RTT) on one node through the bridge, and across two simulated
// nodes by native routes and by VXLAN, all in one run, as ratios against the same-node bridge.
// Plugins: lab 5's references (solution/routes, solution/overlay). veth on a small VM is noisy:
// each figure is min/median/max of --runs repeats. Paths not built yet (redirect_peer,
// fib_lookup: lab 5 steps 3-4) are not measured.
// Usage (root, after npm run build): node scripts/bench-forwarding.mjs [--runs 3]
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const RUNS = opt('runs', 3)
if (process.getuid?.() !== 0) {
  console.error('bench-forwarding needs root (network namespaces): sudo node scripts/bench-forwarding.mjs')
  process.exit(2)
}
const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-fwd-'))
process.env.EBPFCNI_STATE_DIR = join(tmp, 'state')
const {Cluster} = await import(join(root, 'dist/nodes/cluster.js'))
const {PodService} = await import(join(root, 'dist/pods/service.js'))
const {Ledger} = await import(join(root, 'dist/host/ledger.js'))

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return {min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1]}
}
const inNs = (path, cmd) => ['nsenter', [`--net=${path}`, ...cmd]]
const sh = (path, cmd) => {
  const [f, a] = inNs(path, cmd)
  return execFileSync(f, a, {encoding: 'utf8', timeout: 60_000})
}

/** iperf3 from a to b (Gbit/s) and ping RTT (ms), RUNS times. */
async function measure(a, b) {
  const server = spawn('nsenter', [`--net=${b.netnsPath}`, 'iperf3', '-s', '-B', b.ip], {stdio: 'ignore'})
  await new Promise((r) => setTimeout(r, 500))
  const gbps = []
  const rtt = []
  try {
    for (let i = 0; i < RUNS; i++) {
      const j = JSON.parse(sh(a.netnsPath, ['iperf3', '-c', b.ip, '-t', '3', '-J']))
      gbps.push(j.end.sum_received.bits_per_second / 1e9)
      const p = sh(a.netnsPath, ['ping', '-c', '50', '-i', '0.01', '-q', b.ip])
      rtt.push(Number(/= [\d.]+\/([\d.]+)\//.exec(p)[1]))
    }
  } finally {
    server.kill()
  }
  return {gbps: stats(gbps), rtt: stats(rtt)}
}

const ledger = new Ledger(join(tmp, 'ledger.json'))
const spec = (id, n) => ({
  id,
  clusterCidr: `10.${230 + n}.0.0/16`,
  underlayNet: `10.97.${n}`,
  tunnelNet: `10.96.${n}`,
  netnsPrefix: `bf${n}${process.pid % 1000}-`,
  linkPrefix: `bf${n}${process.pid % 1000}`,
  bridge: `bfu${n}${process.pid % 1000}`,
  pinDir: `/sys/fs/bpf/ebpfcni-bf${n}${process.pid % 1000}`,
})
const clusters = []
const cleanup = async () => {
  for (const c of clusters) for (const n of c.list()) await c.remove(n.name).catch(() => undefined)
  rmSync(tmp, {recursive: true, force: true})
}
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => void cleanup().then(() => process.exit(130)))

/** A cluster running one of lab 5's reference plugins, with two pods placed as asked. */
async function setup(n, plugin, conf, placement) {
  const bin = join(tmp, `bin${n}`)
  cpSync(join(root, 'labs/05-nodes/solution', plugin, 'ebpfcni'), join(bin, 'ebpfcni'))
  chmodSync(join(bin, 'ebpfcni'), 0o755)
  const confFile = join(tmp, `conf${n}.json`)
  writeFileSync(
    confFile,
    JSON.stringify({cniVersion: '1.0.0', name: `bf${n}`, type: 'ebpfcni', podcidr: '10.10.0.0/24', ...conf}),
  )
  const cluster = new Cluster(spec(`bf${n}`, n), ledger)
  clusters.push(cluster)
  const nodes = [await cluster.add('a'), await cluster.add('b')]
  const pods = new PodService(ledger)
  const made = []
  for (const [i, nodeIndex] of placement.entries()) {
    const node = nodes[nodeIndex]
    made.push(
      await pods.add({
        name: `bf${n}p${i}${process.pid % 1000}`,
        configFile: cluster.nodeConfig(node, confFile),
        cniPath: [bin],
        workload: 'sleep',
        node: {name: node.name, netnsPath: node.netnsPath},
      }),
    )
  }
  return made
}

try {
  const version = execFileSync('iperf3', ['--version'], {encoding: 'utf8'}).split('\n')[0]
  console.log(
    `lab 5 forwarding paths, ${RUNS} runs each (${version}; kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()})`,
  )
  const paths = [
    ['one node, through the bridge', 'routes', {}, [0, 0]],
    ['two nodes, native routes', 'routes', {}, [0, 1]],
    ['two nodes, VXLAN (MTU 1450)', 'overlay', {mtu: 1450}, [0, 1]],
  ]
  let reference
  for (const [i, [name, plugin, conf, placement]] of paths.entries()) {
    const [a, b] = await setup(i + 1, plugin, conf, placement)
    const m = await measure(a, b)
    reference ??= m
    const ratio = (x, r) => (x / r).toFixed(2)
    console.log(
      `${name.padEnd(30)} TCP ${m.gbps.min.toFixed(1)}/${m.gbps.median.toFixed(1)}/${m.gbps.max.toFixed(1)} Gbit/s (min/median/max; ${ratio(m.gbps.median, reference.gbps.median)}x the bridge)  RTT ${m.rtt.median.toFixed(3)} ms median (${ratio(m.rtt.median, reference.rtt.median)}x)`,
    )
  }
} finally {
  await cleanup()
}
