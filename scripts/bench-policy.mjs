#!/usr/bin/env node
// Policy benchmark (prints figures; not a test): 500 pods in 10 label groups, one NetworkPolicy
// per group ("group i accepts group i"), applied through the policy service into the pinned
// maps of lab 4's two designs. Figures: time to converge from empty, entries per design (ip-pair: one entry per allowed pod pair; identity: one rule per selected pod and peer group), and the
// cost of one pod joining afterwards. Pods are records only (no netns): this measures the
// control plane and the map writes, not pod creation. Root needed.
// Usage: node scripts/bench-policy.mjs [--pods 500] [--groups 10]
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (n, d) => (process.argv.includes(`--${n}`) ? Number(process.argv[process.argv.indexOf(`--${n}`) + 1]) : d)
const PODS = arg('pods', 500)
const GROUPS = arg('groups', 10)
const state = mkdtempSync(join(tmpdir(), 'ebpfcni-benchpol-'))
process.env.EBPFCNI_STATE_DIR = state
const {buildBpf} = await import(join(root, 'dist/bpf/build.js'))
const {loadAndPin} = await import(join(root, 'dist/bpf/programs.js'))
const {Ledger} = await import(join(root, 'dist/host/ledger.js'))
const {PolicyService} = await import(join(root, 'dist/policy/service.js'))
const {PolicyStore} = await import(join(root, 'dist/policy/store.js'))
const {MemoryPodSource} = await import(join(root, 'dist/policy/pods.js'))

const pods = Array.from({length: PODS}, (_, i) => ({
  name: `pod-${i}`,
  ip: `10.${100 + Math.floor(i / 250)}.${Math.floor((i % 250) / 250)}.${(i % 250) + 1}`,
  labels: {app: `group-${i % GROUPS}`},
}))
const policyYaml = (g) =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: group-${g}}\nspec:\n  podSelector: {matchLabels: {app: group-${g}}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: group-${g}}}}]\n`
const designs = {'ip-pair': 'networkpolicy/ebpfcni.bpf.c', identity: 'identity/ebpfcni.bpf.c'}
console.log(
  `policy apply: ${PODS} pods in ${GROUPS} label groups, ${GROUPS} NetworkPolicies (group i accepts group i):`,
)
const dirs = []
try {
  for (const [design, file] of Object.entries(designs)) {
    const pinDir = `/sys/fs/bpf/ebpfcni-bench-policy-${process.pid}-${design}`
    dirs.push(pinDir)
    const b = await buildBpf(join(root, 'labs/04-security-policy/solution', file), join(state, `${design}.o`))
    if (!b.ok) throw new Error(`build ${design}: ${b.problem}`)
    const out = loadAndPin(b.object, {pinDir, ledger: new Ledger(join(state, 'ledger.json')), replace: true})
    if (!out.ok) throw new Error(`load ${design} failed`)
    const source = new MemoryPodSource([...pods])
    const svc = new PolicyService({pinDir, store: new PolicyStore(join(state, `${design}.json`)), pods: source})
    const files = Array.from({length: GROUPS}, (_, g) => {
      const f = join(state, `${design}-group-${g}.yaml`)
      writeFileSync(f, policyYaml(g))
      return f
    })
    let t = performance.now()
    let written = 0
    for (const f of files) written += (await svc.apply(f)).written
    const converge = performance.now() - t
    t = performance.now()
    source.add({name: 'newcomer', ip: '10.250.0.1', labels: {app: 'group-0'}})
    const join1 = await svc.sync()
    const joinMs = performance.now() - t
    t = performance.now()
    const again = await svc.sync()
    const noopMs = performance.now() - t
    console.log(`  ${design.padEnd(8)}: converged in ${converge.toFixed(0)} ms, ${written} map entries written;`)
    console.log(
      `            one pod joining: ${join1.written} written in ${joinMs.toFixed(1)} ms; a sync with nothing to do: ${again.written} written in ${noopMs.toFixed(1)} ms`,
    )
  }
} finally {
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
  rmSync(state, {recursive: true, force: true})
}
