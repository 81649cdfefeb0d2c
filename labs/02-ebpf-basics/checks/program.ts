import {fail, type CheckDefinition} from '#checks/engine.js'
import {type Lab2Context} from '../context.js'
import {arp, ethernetOnly, ipv4Udp, ipv6, truncatedIpv4} from '#bpf/frames.js'
import {testRun} from '#bpf/object.js'
import {xdpVerdictName, XDP_ACT} from '#bpf/attach.js'

/** Step program's checks (lab.yaml orders the run). */
export const PROGRAM_CHECKS: Array<CheckDefinition<Lab2Context>> = [
  {
    id: 'bpf.compiles',
    cost: 'cheap',
    title: 'ebpfcni.bpf.c compiles with clang -target bpf',
    hint: 'Run `ebpfcni bpf build` to see each error with its line and a caret.',
    run: async (ctx) => {
      const b = await ctx.program.built()
      if (!b.ok) {
        const first = b.diagnostics.find((d) => d.severity === 'error')
        fail(
          first
            ? `${b.errors} error(s); first: ${first.file.split('/').pop()}:${first.line}:${first.column}: ${first.message}`
            : (b.problem ?? 'clang failed'),
        )
      }
      return `compiled${b.warnings ? ` with ${b.warnings} warning(s)` : ''}`
    },
  },
  {
    id: 'bpf.verifier-accepts',
    cost: 'cheap',
    title: 'the verifier accepts the program, and it has an XDP program named xdp_prog',
    hint: 'Read the source line and the explanation: most refusals are a header read without a bounds check before it.',
    run: async (ctx) => {
      const l = await ctx.program.loaded()
      if (!l.ok) {
        const v = l.verifier
        if (!v) fail('the kernel refused the program, and the verifier left no log')
        fail(
          `the verifier refused it${v.source ? ` at ${v.source.file.split('/').pop()}:${v.source.line} (${v.source.text})` : ''}: ${v.lastLines.at(-1) ?? ''}`,
          v.explanation,
        )
      }
      if (!l.fds.has('xdp_prog'))
        fail(
          `no program named xdp_prog; found: ${[...l.fds.keys()].join(', ') || 'none'}`,
          'keep the starter\'s function name: SEC("xdp") int xdp_prog(struct xdp_md *ctx)',
        )
      return `loaded; tag ${l.tag}`
    },
  },
  {
    id: 'bpf.test-run',
    cost: 'cheap',
    title: 'crafted frames get XDP_PASS: IPv4, ARP, IPv6, a bare Ethernet header, a truncated IPv4 header',
    hint: 'Every path returns XDP_PASS in this lab: a frame too short for a header is passed, not aborted or dropped.',
    run: async (ctx) => {
      const fd = await ctx.program.programFd()
      const frames: Array<[string, Buffer]> = [
        ['IPv4/UDP 10.10.0.2 → 10.10.0.3', ipv4Udp('10.10.0.2', '10.10.0.3')],
        ['ARP', arp()],
        ['IPv6', ipv6()],
        ['a bare 14-byte Ethernet header announcing IPv4', ethernetOnly()],
        ['an IPv4 header cut off after 10 bytes', truncatedIpv4()],
      ]
      const wrong = frames
        .map(([what, f]) => [what, testRun(fd, f).retval] as const)
        .filter(([, v]) => v !== XDP_ACT.PASS)
      if (wrong.length)
        fail(wrong.map(([what, v]) => `${what} got ${xdpVerdictName(v)}`).join('; ') + '; expected XDP_PASS for each')
      return `${frames.length} frames, all XDP_PASS`
    },
  },
]
