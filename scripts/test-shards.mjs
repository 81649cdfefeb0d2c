#!/usr/bin/env node
// Where scripts/test.sh runs each test file. Unit files run on the host (they touch no kernel
// object). Integration files run in N shards at once, each shard in a private host of its own
// (scripts/private-host.sh): its own netns, sysfs, bpffs, /run/netns, CNI dirs, ebpfcni state, /tmp.
// What a private host does not make private (the one kernel's trace_pipe, BPF ids, cgroups; the
// network) decides the two exceptions below; podman's storage is shared too, but the containers
// the checks and tests make carry a pid or a random tag in their names, and so do the cgroups of
// cgroup-attach.test. Shards are balanced by each file's duration in the
// last report (test-results/vitest.json), else by the estimates below (longest first, to the
// least loaded shard).
// Usage: node scripts/test-shards.mjs [--shards N] [--durations REPORT] [--skip FILE]... [FILTER...]
// FILTERs pick files whose path contains one (as vitest's filters do); none: every file.
// Prints one line per file: `unit FILE`, `host FILE` or `shard K FILE` (K from 1).
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

// On the real host, one at a time, after the shards: each needs what a private host cannot give.
export const HOST = {
  // debootstrap and the npm registry: a private host has no route out.
  'test/integration/fresh-root.test.ts': 'needs the network',
  // setup.sh on this checkout: npm ci and npm run build rewrite node_modules/ and dist/, which
  // every shard's CLI runs from.
  'test/integration/provision.test.ts': 'rebuilds the checkout',
  // Counts the machine's kernel_drops programs (bpftool sees every namespace's), and lab 4's
  // checks in another shard load one.
  'test/integration/kernel-drops.test.ts': 'counts kernel-wide tracers',
  // A new netns copies the initial namespace's ip_forward: the claim compares it with the host's,
  // and reads devconf_inherit_init_net, which only the initial namespace has.
  'test/integration/claims.test.ts': 'compares with the initial netns',
  // Counts the machine's plugin processes (pgrep sees every private host's): another shard's plugin
  // calls change the count. It runs lab all --auto too (labs 2 and 6).
  'test/integration/interrupt.test.ts': 'counts machine-wide plugin processes',
}

// One after another, in one shard. trace_pipe is one kernel buffer: two readers split its lines
// (lab 2's trace checks bound their window with markers another reader would take), and lab 2's
// program in another shard prints the same pod addresses (every private host has the same address
// plan) into the window. Lab 6 makes its cgroups in the one cgroup tree, and lab6.test asserts none
// is left while another shard's lab 6 run may hold one; a live run's cgroup is what `reset` keeps
// (not "Nothing to remove", a fleet reset's "dirty"). So: every file that reads trace_pipe or runs
// lab 2's program, every file that runs lab 6, and those that expect a reset of all labs to keep nothing.
export const TOGETHER = [
  'labs/02-ebpf-basics/test/lab2.test.ts', // lab 2's program and trace checks
  'test/integration/bpf-trace.test.ts', // bpf trace reads trace_pipe
  'test/integration/cli-bpf.test.ts', // bpf trace reads trace_pipe
  'test/integration/documented-commands.test.ts', // lab all --auto: labs 2 and 6
  'test/integration/guided.test.ts', // lab all --auto
  'test/integration/healed-broken.test.ts', // every step of every lab
  'labs/06-services/test/lab6.test.ts', // lab 6's cgroups, none left
  'labs/06-services/test/node-agent.test.ts', // lab 6's cgroups
  'test/integration/reset-live-runs.test.ts', // lab 6's cgroups of a live run
  'test/integration/fleet-login.test.ts', // fleet reset: "clean"
  'test/integration/fleet.test.ts', // fleet reset: "clean"
  'test/integration/foundation.test.ts', // reset: "Nothing to remove"
]

// Seconds, for a file the last report does not have (CI's last figures for the slowest; the rest guessed by kind).
const ESTIMATE = {
  'test/integration/fresh-root.test.ts': 259,
  'test/integration/documented-commands.test.ts': 238,
  'labs/05-nodes/test/lab5.test.ts': 175,
  'test/integration/healed-broken.test.ts': 168,
  'labs/04-security-policy/test/lab4.test.ts': 153,
  'test/integration/guided.test.ts': 90,
  'labs/01-bridge-cni/test/lab1.test.ts': 80,
  'labs/06-services/test/lab6.test.ts': 70,
  'test/integration/interrupt.test.ts': 60,
  'test/integration/cli-policy.test.ts': 60,
  'test/integration/observe.test.ts': 60,
  'test/integration/cri.test.ts': 60,
  'test/integration/tmux-lab.test.ts': 60,
  'labs/03-maps-monitoring/test/lab3.test.ts': 50,
  'labs/02-ebpf-basics/test/lab2.test.ts': 50,
}
const DEFAULT_ESTIMATE = 25

const flags = {shards: 2, durations: undefined, skip: []}
const filters = []
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i]
  if (a === '--shards') flags.shards = Math.max(1, Number.parseInt(process.argv[++i], 10) || 1)
  else if (a === '--durations') flags.durations = process.argv[++i]
  else if (a === '--skip') flags.skip.push(process.argv[++i])
  else filters.push(a.replace(/^\.\//, ''))
}

/** Test files under dir (relative to the checkout), recursively. */
function testFiles(dir) {
  const abs = join(root, dir)
  if (!existsSync(abs)) return []
  return readdirSync(abs, {withFileTypes: true, recursive: true})
    .filter((d) => d.isFile() && d.name.endsWith('.test.ts'))
    .map((d) => relative(root, join(d.parentPath ?? d.path, d.name)))
}
const labTests = readdirSync(join(root, 'labs')).flatMap((l) => testFiles(join('labs', l, 'test')))
const unit = testFiles('test/unit')
const integration = [...testFiles('test/integration'), ...labTests]
const pick = (files) =>
  files.filter((f) => !flags.skip.includes(f) && (!filters.length || filters.some((x) => f.includes(x)))).sort()

/** Seconds each file took in the last report, where it ran. */
function lastDurations() {
  const out = new Map()
  if (!flags.durations || !existsSync(flags.durations)) return out
  try {
    const r = JSON.parse(readFileSync(flags.durations, 'utf8'))
    for (const f of r.testResults ?? []) {
      const ms = f.endTime - f.startTime
      if (Number.isFinite(ms) && ms > 0) out.set(relative(root, f.name), ms / 1000)
    }
  } catch {
    // An unreadable report plans like no report.
  }
  return out
}
const last = lastDurations()
const seconds = (f) => last.get(f) ?? ESTIMATE[f] ?? DEFAULT_ESTIMATE

for (const f of pick(unit)) console.log(`unit ${f}`)
const chosen = pick(integration)
for (const f of chosen.filter((f) => f in HOST)) console.log(`host ${f}`)

// Units of work: the TOGETHER files (those chosen) as one, every other file alone.
const together = chosen.filter((f) => TOGETHER.includes(f))
const units = chosen.filter((f) => !(f in HOST) && !TOGETHER.includes(f)).map((f) => [f])
if (together.length) units.push(together)
const cost = (u) => u.reduce((s, f) => s + seconds(f), 0)
units.sort((a, b) => cost(b) - cost(a))
const shards = Array.from({length: Math.min(flags.shards, units.length)}, () => ({load: 0, files: []}))
for (const u of units) {
  const s = shards.reduce((m, x) => (x.load < m.load ? x : m))
  s.files.push(...u)
  s.load += cost(u)
}
shards.forEach((s, i) => {
  for (const f of s.files) console.log(`shard ${i + 1} ${f}`)
})
