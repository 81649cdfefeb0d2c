import {fail, type CheckDefinition} from '#checks/engine.js'
import {type Lab2Context} from '../context.js'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {arp, ethernetOnly, ipv4Udp, ipv6, truncatedIpv4, withEthertype, withShortIhl} from '#bpf/frames.js'
import {testRun} from '#bpf/object.js'
import {xdpVerdictName, XDP_ACT} from '#bpf/attach.js'
import {diagnosticLine, explainDiagnostic} from '#bpf/diagnostics.js'
import {verifierLineInWords} from '#bpf/verifier.js'
import type {Diagnostic} from '#bpf/build.js'

/** A diagnostic with the cause behind it, when clang's words have one the labs know. */
const withCause = (d: Diagnostic): string => {
  const cause = explainDiagnostic(d)
  return `${diagnosticLine(d)}${cause ? ` — ${cause}` : ''}`
}

/** The packet-access refusals: what a header read without a bounds check gets. */
const PACKET_ACCESS = /invalid access to packet|offset is outside of the packet/

type FrameKind = 'ipv4' | 'not-ipv4' | 'short'
/** What a frame that got the wrong verdict says about the program, per kind of frame. */
const FRAME_HINTS: Record<FrameKind, string> = {
  ipv4: 'A complete IPv4 frame got it: the return at the end of your IPv4 path decides it, and in this lab that return is XDP_PASS (the starter ends with XDP_ABORTED).',
  'not-ipv4':
    'Frames that are not IPv4 (ARP, IPv6) must pass: `if (eth->h_proto != bpf_htons(ETH_P_IP)) return XDP_PASS;`.',
  short:
    'A frame too short for its header is passed, not aborted or dropped: the return after each bounds check is XDP_PASS.',
}

const ETH_P_IP = 0x0800
/** ETH_P_IP as a little-endian machine stores it: what `eth->h_proto == ETH_P_IP` matches. */
const ETH_P_IP_SWAPPED = 0x0008
const ETH_P_ARP = 0x0806

/**
 * How the program reads the ethertype, told by which `XDP_PASS` frames leave by (probe build): each
 * IPv4 header (truncated, IHL 4, complete) is sent under 0x0800, 0x0008 and ARP's 0x0806. A program
 * treats a type as IPv4 when some header leaves by another return under it than under ARP's. `host`
 * (with what was seen) when 0x0800 is not so treated and 0x0008 is; `unknown` when no probe build or
 * one return for every frame leaves nothing to tell.
 */
async function ethertypeOrder(
  ctx: Lab2Context,
): Promise<{order: 'network' | 'unknown'} | {order: 'host'; seen: string}> {
  const headers = [truncatedIpv4(), withShortIhl(ipv4Udp('10.10.0.2', '10.10.0.3')), ipv4Udp('10.10.0.2', '10.10.0.3')]
  const types = [ETH_P_IP, ETH_P_IP_SWAPPED, ETH_P_ARP]
  const lines = await ctx.program.passLines(types.flatMap((t) => headers.map((h) => withEthertype(h, t))))
  if (!lines) return {order: 'unknown'}
  const under = (t: number): number[] => lines.slice(types.indexOf(t) * headers.length).slice(0, headers.length)
  const asIpv4 = (t: number): number | undefined => under(t).find((l, i) => l !== under(ETH_P_ARP)[i])
  if (asIpv4(ETH_P_IP) !== undefined) return {order: 'network'}
  const swappedLine = asIpv4(ETH_P_IP_SWAPPED)
  if (swappedLine === undefined) return {order: 'unknown'}
  const source = readFileSync(join(ctx.program.workspace, ctx.program.fileName), 'utf8').split('\n')
  const at = (l: number): string => (l ? `line ${l} (${(source[l - 1] ?? '').trim()})` : 'a return without XDP_PASS')
  return {
    order: 'host',
    seen: `an IPv4 frame (ethertype 0x0800 on the wire) leaves your program by the same return as ARP, ${at(under(ETH_P_IP)[0])}, whatever its IPv4 header; the same frame with ethertype 0x0008 (0x0800 with its two bytes swapped) is parsed as IPv4 and leaves by ${at(swappedLine)}: eth->h_proto is compared with ETH_P_IP (0x0800) in host byte order`,
  }
}

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
          first ? `${b.errors} error(s); first: ${diagnosticLine(first)}` : (b.problem ?? 'clang failed'),
          first && explainDiagnostic(first)
            ? `${explainDiagnostic(first)}; \`ebpfcni bpf build\` shows each error with its line and a caret.`
            : undefined,
        )
      }
      const warnings = b.diagnostics.filter((d) => d.severity === 'warning')
      // Passes: a warning is not an error. But it often names the cause of what fails next, so it is shown.
      return warnings.length
        ? `compiled with ${warnings.length} warning(s): ${warnings.slice(0, 2).map(withCause).join('; ')}`
        : 'compiled'
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
        const at = v.source ? ` at ${v.source.file.split('/').pop()}:${v.source.line} (${v.source.text})` : ''
        const site = v.callSite
        // clang's warnings on the line the refusal comes from (the learner's call when it is in a header).
        const line = site?.line ?? v.source?.line
        const warned = (await ctx.program.built()).diagnostics.filter(
          (d) => d.severity === 'warning' && d.line === line && d.file.endsWith(ctx.program.fileName),
        )
        const warning = warned.length ? `clang warned at this line: ${warned.map(withCause).join('; ')}` : undefined
        if (site)
          fail(
            `the verifier refused a line of a ready-made header${at}, reached from your call at ${site.file}:${site.line} (${site.text}) through ${site.through.join(' → ')}: ${verifierLineInWords(v.lastLines.at(-1) ?? '', v.source?.text)}`,
            warning ??
              `The header is not the cause: what your call at line ${site.line} passes it is. ${v.explanation ?? ''}`.trim(),
          )
        fail(
          `the verifier refused it${at}: ${verifierLineInWords(v.lastLines.at(-1) ?? '', v.source?.text)}`,
          [v.explanation, warning].filter(Boolean).join(' ') || undefined,
        )
      }
      if (!l.fds.has('xdp_prog'))
        fail(
          `no program named xdp_prog; found: ${[...l.fds.keys()].join(', ') || 'none'}`,
          'keep the starter\'s function name: SEC("xdp") int xdp_prog(struct xdp_md *ctx)',
        )
      // As compiled, a header read whose value only chose between two `return XDP_PASS;` is gone:
      // the probe build tells the returns apart, and the verifier sees the read.
      const probe = await ctx.program.verdictProbe()
      if (probe && !probe.ok && probe.verifier.lastLines.some((x) => PACKET_ACCESS.test(x))) {
        const v = probe.verifier
        fail(
          `accepted only because clang removed a header read${v.source ? ` at ${v.source.file.split('/').pop()}:${v.source.line} (${v.source.text})` : ''}: every path after it returns XDP_PASS, so its value is unused. Once two paths differ (a printk, a drop), the verifier refuses that read: ${verifierLineInWords(v.lastLines.at(-1) ?? '', v.source?.text)}`,
          v.explanation,
        )
      }
      return `loaded; tag ${l.tag}`
    },
  },
  {
    id: 'bpf.test-run',
    cost: 'cheap',
    title:
      'crafted frames get XDP_PASS: IPv4, ARP, IPv6, a bare Ethernet header, a truncated IPv4 header; IPv4 is told by its ethertype in network byte order',
    hint: 'Every path returns XDP_PASS in this lab: a frame too short for a header is passed, not aborted or dropped.',
    run: async (ctx) => {
      const fd = await ctx.program.programFd()
      const frames: Array<[string, FrameKind, Buffer]> = [
        ['IPv4/UDP 10.10.0.2 → 10.10.0.3', 'ipv4', ipv4Udp('10.10.0.2', '10.10.0.3')],
        ['ARP', 'not-ipv4', arp()],
        ['IPv6', 'not-ipv4', ipv6()],
        ['a bare 14-byte Ethernet header announcing IPv4', 'short', ethernetOnly()],
        ['an IPv4 header cut off after 10 bytes', 'short', truncatedIpv4()],
      ]
      const wrong = frames
        .map(([what, kind, f]) => [what, kind, testRun(fd, f).retval] as const)
        .filter(([, , v]) => v !== XDP_ACT.PASS)
      if (wrong.length)
        fail(
          wrong.map(([what, , v]) => `${what} got ${xdpVerdictName(v)}`).join('; ') + '; expected XDP_PASS for each',
          [...new Set(wrong.map(([, kind]) => kind))].map((k) => FRAME_HINTS[k]).join(' '),
        )
      const order = await ethertypeOrder(ctx)
      if (order.order === 'host')
        fail(
          order.seen,
          'eth->h_proto holds the ethertype as the wire carries it, big-endian (network byte order); ETH_P_IP is 0x0800 in host order, little-endian here, so the two never match: compare with bpf_htons(ETH_P_IP), or bpf_ntohs(eth->h_proto) == ETH_P_IP.',
        )
      return `${frames.length} frames, all XDP_PASS${order.order === 'network' ? '; IPv4 told from ARP by its ethertype in network byte order' : ''}`
    },
  },
]
