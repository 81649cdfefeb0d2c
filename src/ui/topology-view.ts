import chalk from 'chalk'
import type {Topology, TopologyPod, TopologyPort, TopologyProgram} from '../topology/topology.js'

// The node drawn for a terminal: each bridge with the programs on the bridge device itself, a
// branch per pod with its host veth, address, MAC, labels and runtime, and under it the programs
// on that veth, then a branch per port no pod owns (with its programs); then the pinned maps.

/** What each hook sees, by the device it is on: a pod's host veth, a bridge, any other port. */
const HOOK: Record<'pod' | 'bridge' | 'port', Record<TopologyProgram['hook'], string>> = {
  pod: {xdp: 'XDP (what the pod sends)', 'tc-egress': 'TC egress (what goes to the pod)', 'tc-ingress': 'TC ingress'},
  // Generic XDP on a bridge runs where the bridge passes a frame up to the host's stack, not on
  // the frames it switches between its ports.
  bridge: {
    xdp: 'XDP on the bridge (frames it passes up to the host, not those between its ports)',
    'tc-egress': 'TC egress on the bridge',
    'tc-ingress': 'TC ingress on the bridge',
  },
  port: {xdp: 'XDP', 'tc-egress': 'TC egress', 'tc-ingress': 'TC ingress'},
}

function programLines(programs: TopologyProgram[], on: keyof typeof HOOK, indent: string): string[] {
  return programs.map(
    (g) =>
      `${indent}${chalk.yellow(HOOK[on][g.hook] ?? g.hook)}: ${g.name ?? 'program'} (id ${g.id}${g.hook === 'xdp' ? `, ${g.mode}` : ''})`,
  )
}

function podLines(p: TopologyPod, last: boolean): string[] {
  const branch = last ? '└─' : '├─'
  const cont = last ? '   ' : '│  '
  const labels = Object.entries(p.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')
  const head = `${branch} ${p.hostVeth ?? '(no host veth)'} ── pod ${chalk.bold(p.name)}  ${p.ip ?? 'no IP'}  ${p.mac ?? 'mac ?'}${labels ? `  ${chalk.cyan(labels)}` : ''}  ${chalk.dim(`${p.runtime} ${p.netns}`)}`
  const progs = programLines(p.programs, 'pod', `${cont}   `)
  return [head, ...(progs.length ? progs : [`${cont}   ${chalk.dim('no BPF program on this veth')}`])]
}

/** A port no pod owns: what it may be left from, and how to remove it. */
function podlessLines(p: TopologyPort, last: boolean): string[] {
  const branch = last ? '└─' : '├─'
  const cont = last ? '   ' : '│  '
  const why = p.peerOnHost
    ? `its other end ${p.peerOnHost} is on the host too: an ADD that failed before moving it into a pod`
    : 'a pod deleted without DEL, or an ADD that failed half-way'
  return [
    `${branch} ${p.name}${p.kind && p.kind !== 'veth' ? ` (${p.kind})` : ''} ── ${chalk.yellow('no pod (left over?)')}  ${chalk.dim(`${why}${p.up ? '' : '; down'}`)}`,
    ...programLines(p.programs, 'port', `${cont}   `),
    `${cont}   remove it: ip link del ${p.name}${p.kind === 'veth' ? chalk.dim(' (its other end goes with it)') : ''}`,
  ]
}

export function renderTopology(topology: Topology): string {
  const out: string[] = [chalk.bold(`node ${topology.node}`)]
  const anyPod = topology.unbridged.length > 0 || topology.bridges.some((b) => b.pods.length > 0)
  if (!topology.bridges.length && !anyPod) out.push('  no bridge and no pods: ebpfcni pod add NAME')
  else if (!anyPod) out.push(chalk.dim('  no pods (ebpfcni pod add NAME); the bridges on this host:'))
  for (const b of topology.bridges) {
    out.push(
      `${chalk.bold(b.name)} bridge ${b.addresses.join(', ') || 'no address'}${b.up ? '' : chalk.red(' (down)')}`,
    )
    out.push(...programLines(b.programs, 'bridge', '  │  '))
    const rows = b.pods.length + b.podless.length
    b.pods.forEach((p, i) => out.push(...podLines(p, i === rows - 1).map((l) => `  ${l}`)))
    b.podless.forEach((p, i) => out.push(...podlessLines(p, b.pods.length + i === rows - 1).map((l) => `  ${l}`)))
    if (rows === 0) out.push(chalk.dim('  └─ no ports'))
  }
  if (topology.unbridged.length) {
    out.push(chalk.bold('pods on no bridge'))
    topology.unbridged.forEach((p, i) =>
      out.push(...podLines(p, i === topology.unbridged.length - 1).map((l) => `  ${l}`)),
    )
  }
  if (topology.nodes.length) {
    out.push(chalk.bold(`simulated nodes (lab 5), on the underlay`))
    for (const n of topology.nodes) {
      const pods = n.pods.map((p) => `${p.name} ${p.ip ?? 'no IP'}`).join(', ')
      out.push(
        `  ${chalk.bold(n.name)}  pods ${n.podCidr}  underlay ${n.underlayIp}  tunnel ${n.tunnelIp}  ${chalk.dim(n.netns)}${pods ? `\n     ${pods}` : ''}`,
      )
    }
  }
  // A ring buffer has no entries: its max_entries is its size in bytes.
  const mapSize = (m: Topology['maps'][number]): string =>
    /ringbuf$/.test(m.type) ? `${m.maxEntries / 1024} KiB ring` : `${m.entries}/${m.maxEntries} entries`
  out.push(
    topology.maps.length
      ? `${chalk.bold('pinned maps')} ${chalk.dim('(/sys/fs/bpf/ebpfcni)')}\n${topology.maps.map((m) => `  ${m.name.padEnd(16)} ${m.type.padEnd(16)} ${mapSize(m)}`).join('\n')}`
      : chalk.dim('no pinned maps (ebpfcni bpf load FILE.o pins them)'),
  )
  return out.join('\n')
}
