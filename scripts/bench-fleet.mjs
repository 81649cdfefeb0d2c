#!/usr/bin/env node
// fleet report over a simulated room (prints figures; not a test). 200 attendee "VMs" are 200
// addresses (10.94.1.1-200) inside one network namespace this script makes, served by one sshd
// there; each VM answers status --json after a delay of its own (0.2-1.0 s, the slowest 3 s: a
// busy VM). Measured in alternating rounds, in one run: fleet report over the slowest host alone
// (the reference) and over all 200 with the default pool. The goal: the room within 2x the
// slowest host's time. Nothing listens outside the namespace; nothing is sent anywhere else.
// Usage (root, after npm run build; needs openssh-server: setup.sh --test-tools):
//   node scripts/bench-fleet.mjs [--hosts 200] [--runs 3] [--concurrency 32]
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createConnection} from 'node:net'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {asStockDebian} from './stock-debian.mjs'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const HOSTS = opt('hosts', 200)
const RUNS = opt('runs', 3)
const CONCURRENCY = opt('concurrency', 64) // fleet report's default -j
const SLOWEST_S = 3
if (process.getuid?.() !== 0) {
  console.error('bench-fleet needs root (a network namespace): sudo node scripts/bench-fleet.mjs')
  process.exit(2)
}
if (HOSTS < 2 || HOSTS > 250) {
  console.error('--hosts must be 2-250 (one /24 of addresses)')
  process.exit(2)
}
const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-bench-fleet-'))
const ns = `eflbench${process.pid % 10000}`
const veth = `${ns}h`
const sh = (f, a, timeout = 30_000) => execFileSync(f, a, {encoding: 'utf8', timeout})
const inNs = (a) => sh('nsenter', [`--net=/run/netns/${ns}`, ...a])
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return {min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1]}
}
const fmt = (s) => `min ${s.min.toFixed(2)} s, median ${s.median.toFixed(2)} s, max ${s.max.toFixed(2)} s`

let sshd
const quietly = (f, a) => execFileSync(f, a, {stdio: 'ignore', timeout: 30_000})
const cleanup = () => {
  sshd?.kill('SIGKILL')
  for (const args of [
    ['link', 'del', veth],
    ['netns', 'del', ns],
  ])
    try {
      quietly('ip', args)
    } catch {
      // already gone
    }
  rmSync(tmp, {recursive: true, force: true})
}
process.on('SIGINT', () => (cleanup(), process.exit(130)))

try {
  // The room's network: one namespace, HOSTS addresses, a veth to this machine.
  sh('ip', ['netns', 'add', ns])
  sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
  sh('ip', ['addr', 'add', '10.94.255.254/16', 'dev', veth])
  sh('ip', ['link', 'set', veth, 'up'])
  inNs(['ip', 'link', 'set', 'lo', 'up'])
  inNs(['ip', 'link', 'set', 'eth0', 'up'])
  const addresses = Array.from({length: HOSTS}, (_, i) => `10.94.1.${i + 1}`)
  for (const a of addresses) inNs(['ip', 'addr', 'add', `${a}/16`, 'dev', 'eth0'])

  // Each VM's delay: spread 0.2-1.0 s, the last one the slowest.
  const delays = addresses.map((a, i) => [a, i === HOSTS - 1 ? SLOWEST_S : 0.2 + ((i * 37) % 81) / 100])
  writeFileSync(join(tmp, 'delays'), delays.map(([a, d]) => `${a} ${d}`).join('\n') + '\n')
  const status = JSON.parse(sh(join(root, 'bin/run.js'), ['status', '--json']))
  writeFileSync(join(tmp, 'status.json'), JSON.stringify(status))
  const answer = join(tmp, 'answer.sh')
  writeFileSync(
    answer,
    `#!/bin/sh\nset -- $SSH_CONNECTION\nsleep "$(awk -v ip="$3" '$1 == ip {print $2}' ${tmp}/delays)"\ncat ${tmp}/status.json\n`,
  )
  chmodSync(answer, 0o755)

  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'key')])
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(tmp, 'host_key')])
  writeFileSync(join(tmp, 'authorized_keys'), sh('cat', [join(tmp, 'key.pub')]))
  chmodSync(join(tmp, 'authorized_keys'), 0o600)
  mkdirSync('/run/sshd', {recursive: true})
  writeFileSync(
    join(tmp, 'sshd_config'),
    [
      'ListenAddress 0.0.0.0:22',
      `HostKey ${join(tmp, 'host_key')}`,
      `AuthorizedKeysFile ${join(tmp, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'StrictModes no',
      'UsePAM no',
      'PidFile none',
      // One sshd stands for the whole room: let it take the pool's connections at once (and, with
      // -r, fork without re-executing itself: the room's VMs each have CPUs of their own; here
      // every server shares this machine's with the client).
      'MaxStartups 512',
      `ForceCommand ${answer}`,
      '',
    ].join('\n'),
  )
  // The VMs are stock Debian: their sessions read Debian's root .bashrc, not this machine's.
  const [cmd, ...args] = asStockDebian([
    'nsenter',
    `--net=/run/netns/${ns}`,
    '/usr/sbin/sshd',
    '-D',
    '-e',
    '-r',
    '-f',
    join(tmp, 'sshd_config'),
  ])
  sshd = spawn(cmd, args, {stdio: 'ignore'})
  for (let i = 0; ; i++) {
    const open = await new Promise((r) => {
      const s = createConnection({host: addresses[0], port: 22})
      s.once('connect', () => (s.destroy(), r(true)))
      s.once('error', () => r(false))
    })
    if (open) break
    if (i > 100) throw new Error('sshd did not start')
    await new Promise((r) => setTimeout(r, 100))
  }

  writeFileSync(join(tmp, 'all.txt'), addresses.map((a) => `root@${a}`).join('\n') + '\n')
  writeFileSync(join(tmp, 'slowest.txt'), `root@${addresses[HOSTS - 1]}\n`)
  // CPU of the instructor's side (fleet report and its ssh children, waited for): /proc/self/stat
  // cutime + cstime, in clock ticks (100 Hz). sshd's is not in it: on a real room it is the VMs'.
  const cpuOf = (pid, own) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(f[13]) + Number(f[14]) + (own ? Number(f[11]) + Number(f[12]) : 0)) / 100
  }
  const childCpu = () => cpuOf('self', false)
  // sshd stands for the 200 VMs: its sessions (waited for by it) are their CPU, spent here.
  const serverCpu = () => cpuOf(sshd.pid, true)
  const cpu = []
  const sCpu = []
  const report = (list) => {
    const c0 = childCpu()
    const s0 = serverCpu()
    const t0 = performance.now()
    const out = sh(
      'node',
      [
        join(root, 'bin/run.js'),
        'fleet',
        'report',
        join(tmp, list),
        '--json',
        '-i',
        join(tmp, 'key'),
        '--ssh-option',
        `UserKnownHostsFile=${join(tmp, 'known_hosts')}`,
        '-j',
        String(CONCURRENCY),
      ],
      600_000,
    )
    const s = (performance.now() - t0) / 1000
    if (list === 'all.txt') {
      cpu.push(childCpu() - c0)
      sCpu.push(serverCpu() - s0)
    }
    const rows = JSON.parse(out).rows
    const bad = rows.filter((r) => r.state !== 'idle' && r.state !== 'ok')
    if (bad.length) throw new Error(`${bad.length} host(s) did not answer: ${JSON.stringify(bad[0])}`)
    return {s, rows: rows.length}
  }
  report('slowest.txt') // learns the host key once
  const one = []
  const all = []
  for (let i = 0; i < RUNS; i++) {
    one.push(report('slowest.txt').s)
    const r = report('all.txt')
    if (r.rows !== HOSTS) throw new Error(`${r.rows} rows for ${HOSTS} hosts`)
    all.push(r.s)
  }
  const ratio = all.map((a, i) => a / one[i])
  const work = delays.reduce((n, [, d]) => n + d, 0)
  console.log(
    `fleet report, ${HOSTS} simulated VMs (delays 0.2-1.0 s, slowest ${SLOWEST_S} s; ${work.toFixed(0)} host-seconds of waiting), pool ${CONCURRENCY}, ${RUNS} rounds:`,
  )
  console.log(`  the slowest host alone:  ${fmt(stats(one))}`)
  console.log(`  all ${HOSTS} hosts:          ${fmt(stats(all))}`)
  console.log(`  the instructor's CPU for all ${HOSTS} (fleet report + its ssh): ${fmt(stats(cpu))}`)
  console.log(`  the simulated VMs' CPU (sshd and its sessions), on this same machine: ${fmt(stats(sCpu))}`)
  const cores = Number(sh('nproc', []).trim())
  const floor = stats(cpu.map((c, i) => (c + sCpu[i]) / cores)).median
  console.log(
    `  so the room cannot finish here in less than ~${floor.toFixed(1)} s (both sides' CPU over ${cores} cores)`,
  )
  console.log(
    `  ratio (room / slowest):  min ${stats(ratio).min.toFixed(2)}x, median ${stats(ratio).median.toFixed(2)}x, max ${stats(ratio).max.toFixed(2)}x (goal: <= 2x)`,
  )
} finally {
  cleanup()
}
