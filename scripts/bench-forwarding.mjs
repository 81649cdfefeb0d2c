#!/usr/bin/env node
// Lab 5's forwarding paths, measured (prints figures; not a test): pod-to-pod TCP throughput
// (iperf3, 3 s) and latency (ping RTT) on one node through the bridge, and across two simulated
// nodes by native routes and by VXLAN, all in one run, as ratios against the same-node bridge.
// Plugins: lab 5's references (solution/routes, solution/overlay). veth on a small VM is noisy:
// each figure is min/median/max of --runs repeats. One node without a bridge is measured too: pods
// with a /32 and a link-local gateway, first through the node's IP stack (routes per pod), then
// with lab 5's step 3 reference (solution/nobridge/forward.bpf.c: bpf_redirect_peer) on each host
// veth, ebpfcni's drop_all (bpf/tool/drop_all.bpf.c, TC_ACT_SHOT) on their egress and the node's
// forwarding counter read. Across two nodes without bridges (VXLAN, MTU 1450): step 3's reference
// (the nodes' stacks forward) against step 4's (solution/fib: bpf_fib_lookup + bpf_redirect_neigh
// out, bpf_redirect_peer in), with both nodes' forwarding counters read. Last, lab 5 step 5: one
// pod on a veth pair with step 4's from_pod on the host veth's TC ingress (clsact), against one on
// a netkit pair (kernel 6.7+, CONFIG_NETKIT, iproute2 6.7+) with the same from_pod as the peer's
// program, in the same run: iperf3 single stream, and TCP request/response p99 (1 byte each way,
// one connection, netperf TCP_RR's pattern), as ratios. Where netkit cannot be made it says why.
// Usage (root, after npm run build): node scripts/bench-forwarding.mjs [--runs 3] [--modern-only]
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const RUNS = opt('runs', 3)
/** --modern-only: step 5's veth + tc against netkit alone. */
const MODERN_ONLY = process.argv.includes('--modern-only')
if (process.getuid?.() !== 0) {
  console.error('bench-forwarding needs root (network namespaces): sudo node scripts/bench-forwarding.mjs')
  process.exit(2)
}
const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-fwd-'))
process.env.EBPFCNI_STATE_DIR = join(tmp, 'state')
const {Cluster} = await import(join(root, 'dist/nodes/cluster.js'))
const {PodService} = await import(join(root, 'dist/pods/service.js'))
const {Ledger} = await import(join(root, 'dist/host/ledger.js'))
const {buildBpf} = await import(join(root, 'dist/bpf/build.js'))
const {netkitSupport} = await import(join(root, 'dist/bpf/netkit.js'))
const {netkitAttach, tcxDetach} = await import(join(root, 'dist/bpf/tcx.js'))
const {inNetns} = await import(join(root, 'dist/bpf/netns.js'))

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
  nodePinRoot: `/sys/fs/bpf/ebpfcni-bfn${n}${process.pid % 1000}`,
})
const clusters = []
const nobridge = {netns: [], pins: `/sys/fs/bpf/ebpfcni-bench-rp${process.pid}`}
const cleanup = async () => {
  for (const c of clusters) for (const n of c.list()) await c.remove(n.name).catch(() => undefined)
  for (const ns of nobridge.netns) spawnSync('ip', ['netns', 'del', ns])
  rmSync(nobridge.pins, {recursive: true, force: true})
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

const run = (f, a) => execFileSync(f, a, {encoding: 'utf8', timeout: 30_000})
const inNode = (ns, cmd) => run('nsenter', [`--net=/run/netns/${ns}`, ...cmd])
/** IP datagrams the node's stack forwarded (/proc/net/snmp Ip: ForwDatagrams, in its namespace). */
const forwarded = (ns) => {
  const lines = inNode(ns, ['cat', '/proc/net/snmp'])
    .split('\n')
    .filter((l) => l.startsWith('Ip:'))
  const [head, vals] = lines.map((l) => l.split(/\s+/))
  return Number(vals[head.indexOf('ForwDatagrams')])
}
/** Sum of a per-CPU counter slot of a pinned array (bpftool map dump -j). */
const counter = (pin, slot) => {
  const entries = JSON.parse(run('bpftool', ['map', 'dump', 'pinned', pin, '-j']))
  const e = entries.find((x) => (x.formatted?.key ?? x.key) === slot || Number(x.key?.[0]) === slot)
  return (e?.formatted?.values ?? e?.values ?? []).reduce((n, v) => n + Number(v.value), 0)
}
const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, '0'))

/** One node (a netns), two pods with a /32 each and 169.254.1.1 as their gateway, no bridge. */
function noBridgeNode() {
  const tag = process.pid % 10000
  const node = `nbn${tag}`
  const pods = [1, 2].map((i) => ({ns: `nbp${i}${tag}`, ip: `10.88.0.${i}`, veth: `nbh${i}${tag}`}))
  nobridge.netns.push(node, ...pods.map((p) => p.ns))
  for (const ns of [node, ...pods.map((p) => p.ns)]) run('ip', ['netns', 'add', ns])
  inNode(node, ['ip', 'link', 'set', 'lo', 'up'])
  inNode(node, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
  for (const p of pods) {
    inNode(node, ['ip', 'link', 'add', p.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.ns])
    inNode(node, ['ip', 'addr', 'add', '169.254.1.1/32', 'dev', p.veth])
    inNode(node, ['ip', 'link', 'set', p.veth, 'up'])
    // (sysfs shows the namespace that mounted it, not nsenter's: ask ip)
    const link = (ns, dev) => JSON.parse(inNode(ns, ['ip', '-j', 'link', 'show', 'dev', dev]))[0]
    const hostMac = link(node, p.veth).address
    for (const cmd of [
      ['ip', 'link', 'set', 'lo', 'up'],
      ['ip', 'link', 'set', 'eth0', 'up'],
      ['ip', 'addr', 'add', `${p.ip}/32`, 'dev', 'eth0'],
      ['ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link'],
      ['ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0'],
      ['ip', 'neigh', 'add', '169.254.1.1', 'lladdr', hostMac, 'dev', 'eth0', 'nud', 'permanent'],
    ])
      inNode(p.ns, cmd)
    inNode(node, ['ip', 'route', 'add', `${p.ip}/32`, 'dev', p.veth])
    p.hostMac = hostMac
    p.podMac = link(p.ns, 'eth0').address
    p.ifindex = link(node, p.veth).ifindex
    p.netnsPath = `/run/netns/${p.ns}`
  }
  return {node, pods}
}

/** Step 3's reference from_pod on each host veth's ingress, its endpoint map filled; drop_all on their egress. */
async function attachRedirect({node, pods}) {
  const objects = {}
  mkdirSync(nobridge.pins, {recursive: true})
  for (const [name, source] of [
    ['forward', 'labs/05-nodes/solution/nobridge/forward.bpf.c'],
    ['drop', 'bpf/tool/drop_all.bpf.c'],
  ]) {
    const built = await buildBpf(join(root, source), join(tmp, `${name}.o`))
    if (!built.ok) throw new Error(`${source} did not build: ${built.problem ?? JSON.stringify(built.diagnostics)}`)
    run('bpftool', [
      'prog',
      'loadall',
      built.object,
      join(nobridge.pins, name),
      'type',
      'classifier',
      'pinmaps',
      join(nobridge.pins, name),
    ])
    objects[name] = join(nobridge.pins, name)
  }
  for (const p of pods) {
    const ifindex = [0, 8, 16, 24].map((s) => (p.ifindex >> s) & 255)
    const mac = (m) => m.split(':').map((x) => parseInt(x, 16))
    run('bpftool', [
      'map',
      'update',
      'pinned',
      `${objects.forward}/endpoints`,
      'key',
      'hex',
      ...hex(p.ip.split('.').map(Number)),
      'value',
      'hex',
      ...hex([...ifindex, ...mac(p.podMac), ...mac(p.hostMac)]),
    ])
    inNode(node, ['tc', 'qdisc', 'add', 'dev', p.veth, 'clsact'])
    inNode(node, [
      'tc',
      'filter',
      'add',
      'dev',
      p.veth,
      'ingress',
      'bpf',
      'da',
      'pinned',
      `${objects.forward}/from_pod`,
    ])
    inNode(node, ['tc', 'filter', 'add', 'dev', p.veth, 'egress', 'bpf', 'da', 'pinned', `${objects.drop}/drop_all`])
  }
  return objects
}

/**
 * One node (a netns) and one pod on a veth or a netkit pair (L2; the netkit peer blackhole until a
 * program passes its packets), a /32 and 169.254.1.1 as the pod's gateway, no bridge.
 */
function modernPod(kind) {
  const tag = `${kind[0]}${process.pid % 10000}`
  const [node, pod, dev, ip] = [`mdn${tag}`, `mdp${tag}`, `mdh${tag}`, '10.87.0.2']
  nobridge.netns.push(node, pod)
  for (const ns of [node, pod]) run('ip', ['netns', 'add', ns])
  inNode(node, ['ip', 'link', 'set', 'lo', 'up'])
  if (kind === 'veth') inNode(node, ['ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod])
  else {
    const peer = `mdk${tag}`
    inNode(node, [
      'ip',
      'link',
      'add',
      dev,
      'type',
      'netkit',
      'mode',
      'l2',
      'forward',
      'peer',
      'blackhole',
      'name',
      peer,
    ])
    inNode(node, ['ip', 'link', 'set', peer, 'netns', pod])
    inNode(pod, ['ip', 'link', 'set', peer, 'name', 'eth0'])
  }
  inNode(node, ['ip', 'addr', 'add', '169.254.1.1/32', 'dev', dev])
  inNode(node, ['ip', 'link', 'set', dev, 'up'])
  inNode(node, ['ip', 'route', 'add', `${ip}/32`, 'dev', dev])
  for (const cmd of [
    ['ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'link', 'set', 'eth0', 'up'],
    ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'eth0'],
    ['ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link'],
    ['ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0'],
  ])
    inNode(pod, cmd)
  return {node, dev, ip, netnsPath: `/run/netns/${pod}`, gateway: {netnsPath: `/run/netns/${node}`, ip: '169.254.1.1'}}
}

/** TCP request/response from a to b, 1 byte each way on one connection, 5000 times: the p99 in µs. */
async function rrP99(a, b) {
  const serve = `require('net').createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)) }).listen(7007, '${b.ip}')`
  const server = spawn('nsenter', [`--net=${b.netnsPath}`, process.execPath, '-e', serve], {stdio: 'ignore'})
  await new Promise((r) => setTimeout(r, 500))
  const client = `const s = require('net').connect(7007, '${b.ip}', () => {
    s.setNoDelay(true); const t = []; let t0
    const next = () => { if (t.length === 5000) { t.sort((x, y) => x - y); console.log(t[Math.floor(t.length * 0.99)]); s.destroy(); return }
      t0 = process.hrtime.bigint(); s.write('x') }
    s.on('data', () => { t.push(Number(process.hrtime.bigint() - t0) / 1000); next() }); next() })`
  try {
    return Number(sh(a.netnsPath, [process.execPath, '-e', client]).trim())
  } finally {
    server.kill()
  }
}

/** Every path of steps 1-4, as ratios against the same-node bridge. */
async function allPaths() {
  const paths = [
    ['one node, through the bridge', 'routes', {}, [0, 0]],
    ['two nodes, native routes', 'routes', {}, [0, 1]],
    ['two nodes, VXLAN (MTU 1450)', 'overlay', {mtu: 1450}, [0, 1]],
  ]
  let reference
  const line = (name, m, ref) => {
    const ratio = (x, r) => (x / r).toFixed(2)
    return `${name.padEnd(30)} TCP ${m.gbps.min.toFixed(1)}/${m.gbps.median.toFixed(1)}/${m.gbps.max.toFixed(1)} Gbit/s (min/median/max; ${ratio(m.gbps.median, ref.gbps.median)}x the bridge)  RTT ${m.rtt.median.toFixed(3)} ms median (${ratio(m.rtt.median, ref.rtt.median)}x)`
  }
  for (const [i, [name, plugin, conf, placement]] of paths.entries()) {
    const [a, b] = await setup(i + 1, plugin, conf, placement)
    const m = await measure(a, b)
    reference ??= m
    console.log(line(name, m, reference))
  }
  // Two nodes without bridges: through both nodes' stacks (step 3), then in eBPF (step 4).
  for (const [i, [name, step]] of [
    ['two nodes, /32s, VXLAN, stacks', 'nobridge'],
    ['two nodes, VXLAN, eBPF (fib)', 'fib'],
  ].entries()) {
    const built = await buildBpf(
      join(root, 'labs/05-nodes/solution', step, 'forward.bpf.c'),
      join(tmp, `forward-${step}.o`),
    )
    if (!built.ok) throw new Error(`${step}'s forward.bpf.c did not build: ${built.problem}`)
    const [a, b] = await setup(
      paths.length + 1 + i,
      step,
      {mtu: 1450, noBridge: true, forwardObject: built.object},
      [0, 1],
    )
    const nodes = clusters.at(-1).list()
    const f0 = nodes.map((n) => forwarded(n.netnsName))
    const m = await measure(a, b)
    const moved = nodes.map((n, j) => `${n.name} ${forwarded(n.netnsName) - f0[j]}`).join(', ')
    console.log(line(name, m, reference), `(nodes forwarded: ${moved} datagrams)`)
  }
  // One node, no bridge: through the node's stack, then with bpf_redirect_peer.
  const nb = noBridgeNode()
  const [a, b] = nb.pods
  let f0 = forwarded(nb.node)
  console.log(
    line('one node, /32s, host routing', await measure(a, b), reference),
    `(node forwarded ${forwarded(nb.node) - f0} datagrams)`,
  )
  const objects = await attachRedirect(nb)
  f0 = forwarded(nb.node)
  const m = await measure(a, b)
  const counts = `${objects.drop}/drop_counts`
  console.log(
    line('one node, bpf_redirect_peer', m, reference),
    `(node forwarded ${forwarded(nb.node) - f0} datagrams; drop_all on the destination veths' egress dropped ${counter(counts, 0)} IPv4 packets, and ${counter(counts, 1)} others)`,
  )
}

try {
  const version = execFileSync('iperf3', ['--version'], {encoding: 'utf8'}).split('\n')[0]
  console.log(
    `lab 5 forwarding paths, ${RUNS} runs each (${version}; kernel ${readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim()})`,
  )
  if (!MODERN_ONLY) await allPaths()
  // Lab 5 step 5: veth + tc against netkit, one pod each, the same from_pod on the pod's way out.
  const nk = await netkitSupport()
  const fwd = await buildBpf(join(root, 'labs/05-nodes/solution/fib/forward.bpf.c'), join(tmp, 'forward-modern.o'))
  if (!fwd.ok) throw new Error(`step 4's forward.bpf.c did not build: ${fwd.problem}`)
  const pins = join(nobridge.pins, 'modern')
  mkdirSync(nobridge.pins, {recursive: true})
  run('bpftool', ['prog', 'loadall', fwd.object, pins, 'type', 'classifier', 'pinmaps', pins])
  const veth = modernPod('veth')
  inNode(veth.node, ['tc', 'qdisc', 'add', 'dev', veth.dev, 'clsact'])
  inNode(veth.node, ['tc', 'filter', 'add', 'dev', veth.dev, 'ingress', 'bpf', 'da', 'pinned', `${pins}/from_pod`])
  const mv = {...(await measure(veth, veth.gateway)), rr: await rrP99(veth, veth.gateway)}
  const modernLine = (name, m) =>
    `${name.padEnd(34)} TCP ${m.gbps.median.toFixed(1)} Gbit/s median, request/response p99 ${m.rr.toFixed(0)} µs`
  console.log(modernLine('one pod, veth + tc (from_pod)', mv))
  if (!nk.ok) console.log(`one pod, netkit: not measured: ${nk.reason}`)
  else {
    const kit = modernPod('netkit')
    const ifindex = JSON.parse(inNode(kit.node, ['ip', '-j', 'link', 'show', 'dev', kit.dev]))[0].ifindex
    const linkPin = `${pins}/link_netkit_peer_${kit.dev}`
    inNetns(`/run/netns/${kit.node}`, () => netkitAttach(`${pins}/from_pod`, ifindex, 'peer', linkPin))
    try {
      const mk = {...(await measure(kit, kit.gateway)), rr: await rrP99(kit, kit.gateway)}
      console.log(
        modernLine('one pod, netkit (from_pod, peer)', mk),
        `(${(mk.gbps.median / mv.gbps.median).toFixed(2)}x veth's throughput, ${(mk.rr / mv.rr).toFixed(2)}x its p99)`,
      )
    } finally {
      tcxDetach(linkPin)
    }
  }
} finally {
  await cleanup()
}
