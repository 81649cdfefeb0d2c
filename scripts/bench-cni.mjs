#!/usr/bin/env node
// Benchmark of the CNI path through the netns runtime (prints figures; not a test).
//   (a) Debian's bridge + host-local   (b) the lab 1 reference solution plugin
// ADD and DEL latency p50/p95 over 50 pods, pods/second for 100 pods created then deleted,
// and the tool's own overhead per ADD: wall time of the network call minus time inside plugin processes.
// Usage (root): node scripts/bench-cni.mjs [--pods 50] [--burst 100]
import {mkdtempSync, rmSync, writeFileSync, existsSync, mkdirSync, copyFileSync, chmodSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg('pods', 50)
const BURST = arg('burst', 100)
if (process.getuid() !== 0) {
  console.error('bench-cni needs root (netns, links)')
  process.exit(2)
}
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-'))
process.env.EBPFCNI_STATE_DIR = state
const {NetnsRuntime} = await import(join(root, 'dist/pods/netns-runtime.js'))
const {Ledger} = await import(join(root, 'dist/host/ledger.js'))

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const ms = (x) => `${x.toFixed(1)} ms`

async function bench(label, configFile, cniPath, bridge) {
  const rt = new NetnsRuntime(new Ledger())
  const spec = (name) => ({name, labels: {}, workload: 'sleep', configFile, cniPath, timeoutMs: 10_000, ifname: 'eth0'})
  const add = [],
    del = [],
    overhead = [],
    plugin = []
  // Measure the network call itself by wrapping invokePlugin timings from the result record.
  for (let i = 0; i < N; i++) {
    const t0 = performance.now()
    const pod = await rt.add(spec(`bn${i}`))
    add.push(performance.now() - t0)
    const t1 = performance.now()
    await rt.remove(pod)
    del.push(performance.now() - t1)
  }
  // Overhead: time the network layer directly against the plugin's own process time.
  const {addNetworkList, delNetworkList} = await import(join(root, 'dist/cni/network.js'))
  const {loadNetworkConfig} = await import(join(root, 'dist/cni/config.js'))
  const net = loadNetworkConfig(configFile)
  await execa('ip', ['netns', 'add', 'ebpfcni-bench-ov'])
  try {
    for (let i = 0; i < 20; i++) {
      const att = {containerId: `ov${i}`, netns: '/run/netns/ebpfcni-bench-ov', ifname: 'eth0'}
      const t0 = performance.now()
      const out = await addNetworkList(net, att, {cniPath})
      const wall = performance.now() - t0
      if (!out.ok) throw new Error(out.problem)
      const inPlugins = out.calls.reduce((s, c) => s + (c.run?.durationMs ?? 0), 0)
      overhead.push(wall - inPlugins)
      plugin.push(inPlugins)
      await delNetworkList(net, att, {cniPath}, out.result)
    }
  } finally {
    await execa('ip', ['netns', 'del', 'ebpfcni-bench-ov'], {reject: false})
  }
  const t0 = performance.now()
  const pods = []
  for (let i = 0; i < BURST; i++) pods.push(await rt.add(spec(`bb${i}`)))
  for (const p of pods) await rt.remove(p)
  const burstSeconds = (performance.now() - t0) / 1000
  await execa('ip', ['link', 'del', bridge], {reject: false})
  const r = {
    label,
    addP50: pct(add, 50),
    addP95: pct(add, 95),
    delP50: pct(del, 50),
    delP95: pct(del, 95),
    podsPerS: BURST / burstSeconds,
    overheadP50: pct(overhead, 50),
    overheadP95: pct(overhead, 95),
    pluginP50: pct(plugin, 50),
  }
  console.log(`${label}`)
  console.log(`  pod ADD (netns + VERSION + ADD): p50 ${ms(r.addP50)}  p95 ${ms(r.addP95)}   (${N} pods)`)
  console.log(`  pod DEL (DEL + netns delete):    p50 ${ms(r.delP50)}  p95 ${ms(r.delP95)}`)
  console.log(
    `  ${BURST} pods created then deleted:   ${r.podsPerS.toFixed(1)} pods/s (${burstSeconds.toFixed(1)} s for all ${BURST} ADDs and DELs)`,
  )
  console.log(
    `  ADD network call: inside plugin processes p50 ${ms(r.pluginP50)}; tool overhead outside them p50 ${ms(r.overheadP50)}  p95 ${ms(r.overheadP95)} (goal < 5 ms)`,
  )
  return r
}

const results = []
try {
  const refDir = join(state, 'ref')
  mkdirSync(refDir)
  const refConf = join(refDir, 'ref.conflist')
  writeFileSync(
    refConf,
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'benchref',
      plugins: [
        {
          type: 'bridge',
          bridge: 'benchbr0',
          isGateway: true,
          ipMasq: false,
          ipam: {type: 'host-local', ranges: [[{subnet: '10.232.0.0/16'}]], dataDir: join(refDir, 'ipam')},
        },
      ],
    }),
  )
  results.push(await bench('(a) Debian bridge + host-local', refConf, ['/usr/lib/cni'], 'benchbr0'))

  const solution = join(root, 'labs/01-bridge-cni/solution/ebpfcni')
  if (existsSync(solution)) {
    const bin = join(state, 'bin')
    mkdirSync(bin)
    copyFileSync(solution, join(bin, 'ebpfcni'))
    chmodSync(join(bin, 'ebpfcni'), 0o755)
    const conf = join(state, '10-ebpfcni.conf')
    writeFileSync(
      conf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'benchsol',
        type: 'ebpfcni',
        podcidr: '10.233.0.0/16',
        bridge: 'benchbr1',
        dataDir: join(state, 'sol-ipam'),
      }),
    )
    results.push(await bench('(b) lab 1 solution plugin (bash + jq)', conf, [bin], 'benchbr1'))
    const [a, b] = results
    console.log(
      `ratio b/a: ADD p50 ${(b.addP50 / a.addP50).toFixed(2)}x, DEL p50 ${(b.delP50 / a.delP50).toFixed(2)}x, pods/s ${(b.podsPerS / a.podsPerS).toFixed(2)}x`,
    )
  } else {
    console.log('(b) skipped: labs/01-bridge-cni/solution/ebpfcni does not exist yet')
  }
} finally {
  rmSync(state, {recursive: true, force: true})
}
