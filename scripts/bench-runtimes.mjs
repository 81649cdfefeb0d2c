#!/usr/bin/env node
// Benchmark of the three pod runtimes with the same plugin (the lab 1 reference) in one run (prints
// figures; not a test): pod start (add until the pod has its IP and workload) p50/p95 for netns,
// podman and cri, each as a ratio to netns; containerd's start time; the image build and import.
// Usage (root): node scripts/bench-runtimes.mjs [--pods 20]
import {mkdtempSync, rmSync, mkdirSync, copyFileSync, chmodSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg('pods', 20)
if (process.getuid() !== 0) {
  console.error('bench-runtimes needs root (netns, containers)')
  process.exit(2)
}
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-rt-'))
process.env.EBPFCNI_STATE_DIR = state
const bin = join(state, 'bin')
const netd = join(state, 'net.d')
mkdirSync(bin)
mkdirSync(netd)
copyFileSync(join(root, 'labs/01-bridge-cni/solution/ebpfcni'), join(bin, 'ebpfcni'))
chmodSync(join(bin, 'ebpfcni'), 0o755)
symlinkSync('/usr/lib/cni/loopback', join(bin, 'loopback'))
const configFile = join(netd, '10-ebpfcni.conf')
writeFileSync(
  configFile,
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'benchrt',
    type: 'ebpfcni',
    podcidr: '10.248.0.0/24',
    bridge: 'benchrt0',
    dataDir: join(state, 'ipam'),
  }),
)

const {PodService} = await import(join(root, 'dist/pods/service.js'))
const {Ledger} = await import(join(root, 'dist/host/ledger.js'))
const {ensureContainerd, removeContainerdState, CONTAINERD_OWNER} = await import(join(root, 'dist/pods/cri/daemon.js'))
const {buildImageArchive} = await import(join(root, 'dist/pods/cri/images.js'))
const {stopRecordedProcess} = await import(join(root, 'dist/host/processes.js'))

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]
}
const ms = (x) => `${x.toFixed(0)} ms`
const ledger = new Ledger()
const pods = new PodService(ledger)

try {
  // containerd: image archive build, then daemon start (spawn to first answered CRI call) with import.
  let t0 = performance.now()
  await buildImageArchive(join(state, 'images-probe.tar'))
  const buildMs = performance.now() - t0
  t0 = performance.now()
  const daemon = await ensureContainerd(ledger, {binDir: bin, confDir: netd})
  const startAndImportMs = performance.now() - t0
  const du = (await execa('du', ['-sk', join(state, 'containerd')])).stdout.split('\t')[0]
  const dpkg = async (p) =>
    Number((await execa('dpkg-query', ['-W', '-f=${Installed-Size}', p], {reject: false})).stdout) || 0

  const results = {}
  for (const runtime of ['netns', 'podman', 'cri']) {
    const times = []
    for (let i = 0; i < N; i++) {
      const name = `b${runtime[0]}${i}`
      const t = performance.now()
      await pods.add({name, configFile, cniPath: [bin, '/usr/lib/cni'], workload: 'sleep'}, runtime)
      times.push(performance.now() - t)
      await pods.remove(name)
    }
    results[runtime] = times
  }
  console.log(`pod start (add until IP and workload), lab 1 reference plugin, ${N} pods each, one at a time`)
  console.log('runtime  p50        p95        p50/netns')
  for (const [rt, xs] of Object.entries(results))
    console.log(
      `${rt.padEnd(9)}${ms(pct(xs, 50)).padEnd(11)}${ms(pct(xs, 95)).padEnd(11)}${(pct(xs, 50) / pct(results.netns, 50)).toFixed(2)}`,
    )
  console.log(
    `\ncontainerd: spawn to first CRI answer ${daemon.startedInMs} ms; start + image import ${ms(startAndImportMs)}; image archive build ${ms(buildMs)}`,
  )
  console.log(
    `disk: containerd state ${Math.round(du / 1024)} MiB after import; Debian packages containerd ${Math.round((await dpkg('containerd')) / 1024)} MiB installed`,
  )
} finally {
  for (const p of pods.list()) await pods.remove(p.name).catch(() => undefined)
  for (const e of ledger.find((x) => x.kind === 'process' && x.owner === CONTAINERD_OWNER))
    await stopRecordedProcess(e.details)
  await removeContainerdState().catch((e) => console.error(String(e)))
  await execa('ip', ['link', 'del', 'benchrt0'], {reject: false})
  rmSync(state, {recursive: true, force: true})
}
