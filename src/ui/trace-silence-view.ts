import type {TraceSilence, SilentProgram} from '../bpf/trace-silence.js'
import {BPF_PIN_ROOT, TRACEFS} from '../host/paths.js'

// `bpf trace` read nothing: say that, then what the tool saw that bears on it. Each line is
// something read on the host (a program's instructions, its attachments, a sysctl, tracing_on,
// /proc), never a guess at the cause.

const HOOK: Record<SilentProgram['attached'][number]['hook'], string> = {
  xdp: 'XDP',
  'tc-ingress': 'TC ingress',
  'tc-egress': 'TC egress',
}

export function describeTraceSilence(
  s: TraceSilence,
  o: {seconds: number; filter?: string; skipped: number; pods: Map<string, string>},
): string[] {
  const head = o.filter
    ? `no trace line with "${o.filter}" in ${o.seconds} s${o.skipped ? ` (${o.skipped} line(s) without it were read and not shown)` : ''}`
    : `no trace line in ${o.seconds} s`
  const out = [head, 'what the host shows:']
  if (s.tracingOn === false)
    out.push(
      `  tracing is off (${TRACEFS}/tracing_on is 0): nothing reaches trace_pipe; echo 1 > ${TRACEFS}/tracing_on`,
    )
  const printers = s.programs.filter((p) => p.printk)
  for (const p of s.programs) {
    const name = `${p.name ?? 'program'} (id ${p.id}${p.pin ? `, pinned at ${p.pin}` : ''})`
    const calls =
      p.printk === null
        ? 'its instructions could not be read (bpftool)'
        : p.printk
          ? 'calls bpf_printk (bpf_trace_printk)'
          : 'does not call bpf_printk'
    const where = p.attached.length
      ? `attached: ${p.attached.map((a) => `${HOOK[a.hook]} on ${a.dev}${o.pods.has(a.dev) ? ` (pod ${o.pods.get(a.dev)})` : ''}`).join(', ')}`
      : 'attached to no interface in this network namespace'
    const runs = p.runs === null ? '' : `; run ${p.runs} time(s) since kernel.bpf_stats_enabled was set`
    out.push(`  ${name} ${calls}; ${where}${runs}`)
  }
  if (!s.programs.length)
    out.push(`  no program is pinned under ${BPF_PIN_ROOT} or attached to an interface in this network namespace`)
  else if (!printers.length)
    out.push('  none of these programs calls bpf_printk: rebuild and load yours (--replace moves it onto the veths)')
  // Only this namespace's interfaces were read: a pinned program may run on a lab 5 node's.
  if (!s.programs.length || s.programs.some((p) => !p.attached.length))
    out.push(
      "  interfaces in other network namespaces (lab 5's nodes, pods) were not looked at (ip -n NS link shows XDP there)",
    )
  if (s.statsEnabled === false && printers.some((p) => p.attached.length))
    out.push(
      '  whether they ran is not known: the kernel counts runs only with kernel.bpf_stats_enabled = 1 (sysctl -w kernel.bpf_stats_enabled=1, then bpftool prog show)',
    )
  for (const r of s.otherReaders)
    out.push(`  another process reads trace_pipe: pid ${r.pid} (${r.command}); each line goes to one reader only`)
  return out
}
