#!/usr/bin/env node
// Where scripts/test.sh runs each test file. Unit files run on the host (they touch no kernel
// object). Integration files run in N shards at once, each shard in a private host of its own
// (scripts/private-host.sh): its own netns, sysfs, bpffs, /run/netns, CNI dirs, ebpfcni state, /tmp.
// What a private host does not make private (the one kernel's trace_pipe, BPF ids; the network)
// decides the exceptions below (HOST, BESIDE, TOGETHER); podman's storage is shared too, but the containers
// the checks and tests make carry a pid or a random tag in their names, and so do the cgroups of
// cgroup-attach.test (lab 6's go below the private host's own cgroup). Shards are balanced by each file's duration in the
// last report (test-results/vitest.json), else by the estimates below (longest first, to the
// least loaded shard).
// Usage: node scripts/test-shards.mjs [--shards N] [--durations REPORT] [--skip FILE]... [FILTER...]
// FILTERs pick files whose path contains one (as vitest's filters do); none: every file.
// Prints one line per file: `unit FILE`, `host FILE`, `beside FILE`, `trace K FILE` or `shard K FILE` (K from 1).
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

// On the real host, one at a time, after the shards: each needs what a private host cannot give.
export const HOST = {
  // setup.sh on this checkout: npm run build rewrites dist/, which every shard's CLI runs from.
  'test/integration/provision.test.ts': 'rebuilds the checkout',
  // Counts the machine's kernel_drops programs (bpftool sees every namespace's), and lab 4's
  // checks in another shard load one.
  'test/integration/kernel-drops.test.ts': 'counts kernel-wide tracers',
  // A new netns copies the initial namespace's ip_forward: the claim compares it with the host's,
  // and reads devconf_inherit_init_net, which only the initial namespace has.
  'test/integration/claims.test.ts': 'compares with the initial netns',
}

// On the real host, beside the shards (at the same time): debootstrap and the npm registry need the
// network, which a private host does not have. Its chroot runs `lab all --auto` (trace_pipe): for that
// it takes the trace lock the shards' TOGETHER files hold (scripts/test-fresh-root.sh, test-shard.sh).
export const BESIDE = {
  'test/integration/fresh-root.test.ts': 'needs the network',
}

// First in their shard, one after another, holding the trace lock. trace_pipe is one kernel buffer:
// two readers split its lines (lab 2's trace checks bound their window with markers another reader
// would take), and lab 2's program in another shard would print the same pod addresses (every private
// host has the same address plan) into the window. So: every file that reads trace_pipe or runs lab 2's
// program (`lab all --auto` does). Lab 6's cgroups no longer need this: each private host has a cgroup
// of its own for them (EBPFCNI_CGROUP_PARENT).
export const TOGETHER = [
  'labs/02-ebpf-basics/test/lab2.test.ts', // lab 2's program and trace checks
  'test/integration/bpf-trace.test.ts', // bpf trace reads trace_pipe
  'test/integration/cli-bpf.test.ts', // bpf trace reads trace_pipe
  'test/integration/documented-commands-trace.test.ts', // lab 2's bpf trace lines; lab all --auto
  'test/integration/guided.test.ts', // lab all --auto
  'test/integration/healed-broken-trace.test.ts', // lab 2's steps
  'test/integration/interrupt.test.ts', // lab all --auto
]

// Seconds, for a file the last report does not have (a clean clone has none: CI plans by these). From
// the last CI-style run (2 shards, 2 cores); the split files' by their groups' tests in it.
const ESTIMATE = {
  'test/integration/fresh-root.test.ts': 202,
  'labs/05-nodes/test/lab5.test.ts': 163,
  'labs/04-security-policy/test/lab4.test.ts': 128,
  'test/integration/healed-broken-labs5-6.test.ts': 100,
  'test/integration/documented-commands-labs4-6.test.ts': 88,
  'test/integration/documented-commands.test.ts': 76,
  'test/integration/interrupt.test.ts': 70,
  'labs/01-bridge-cni/test/lab1.test.ts': 66,
  'test/integration/guided.test.ts': 64,
  'test/integration/cli-policy.test.ts': 59,
  'test/integration/provision.test.ts': 57,
  'test/integration/observe-page.test.ts': 51,
  'labs/06-services/test/lab6.test.ts': 51,
  'test/integration/healed-broken.test.ts': 45,
  'test/integration/observe.test.ts': 42,
  'test/integration/tcx.test.ts': 36,
  'test/integration/documented-commands-trace.test.ts': 35,
  'test/integration/fleet.test.ts': 34,
  'test/integration/fleet-login.test.ts': 32,
  'test/integration/cli-conventions.test.ts': 27,
  'test/integration/podman-cni.test.ts': 26,
  'labs/02-ebpf-basics/test/lab2.test.ts': 26,
  'test/integration/cli-bpf.test.ts': 25,
  'test/integration/new-lab.test.ts': 24,
  'test/integration/cri.test.ts': 22,
  'test/integration/cli-workspaces.test.ts': 21,
  'test/integration/metrics.test.ts': 19,
  'test/integration/topology.test.ts': 18,
  'test/integration/cli-counts-feedback.test.ts': 16,
  'test/integration/cli-lab.test.ts': 15,
  'test/integration/tmux-lab.test.ts': 13,
  'labs/03-maps-monitoring/test/lab3.test.ts': 12,
  'test/integration/policy-isolation.test.ts': 11,
  'test/integration/bpf-trace.test.ts': 10,
  'test/integration/healed-broken-trace.test.ts': 8,
}
const DEFAULT_ESTIMATE = 5

// Run as a script (not when a test imports the tables above).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main()

function main() {
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
  for (const f of chosen.filter((f) => f in BESIDE)) console.log(`beside ${f}`)

  // Units of work: the TOGETHER files (those chosen) as one, every other file alone.
  const together = chosen.filter((f) => TOGETHER.includes(f))
  const units = chosen.filter((f) => !(f in HOST) && !(f in BESIDE) && !TOGETHER.includes(f)).map((f) => [f])
  if (together.length) units.push(together)
  const cost = (u) => u.reduce((s, f) => s + seconds(f), 0)
  units.sort((a, b) => cost(b) - cost(a))
  const shards = Array.from({length: Math.min(flags.shards, units.length)}, () => ({load: 0, files: []}))
  for (const u of units) {
    const s = shards.reduce((m, x) => (x.load < m.load ? x : m))
    s.files.push(...u)
    s.load += cost(u)
  }
  // A shard's TOGETHER files are `trace K FILE` lines: scripts/test-shard.sh runs them first, holding the trace lock.
  shards.forEach((s, i) => {
    for (const f of s.files) console.log(`${TOGETHER.includes(f) ? 'trace' : 'shard'} ${i + 1} ${f}`)
  })
}
