import {describe, it, expect} from 'vitest'
import {explainVerifierLog, explainPacketAccess, readPointer} from '../../src/bpf/verifier.js'
import {diagnosticLine, explainDiagnostic} from '../../src/bpf/diagnostics.js'
import {inlineChain} from '../../src/bpf/inline-sites.js'
import type {Diagnostic} from '../../src/bpf/build.js'

// Feedback that names the cause the check saw: which header a refused read falls in, what a clang
// warning means for a lab program, and which of the learner's calls led into a provided header.

const log = (...lines: string[]) =>
  [...lines, 'processed 14 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0'].join(
    '\n',
  )

describe('a refused packet read names its header', () => {
  it('an unchecked IPv4 header read is explained with the IPv4 header and the ip pointer, not Ethernet', () => {
    const r = explainVerifierLog(
      log(
        '; if (ip->ihl < 5) @ ebpfcni.bpf.c:23',
        '12: (71) r1 = *(u8 *)(r3 +0)',
        'invalid access to packet, off=14 size=1, R3(id=0,off=14,r=14)',
        'R3 offset is outside of the packet',
      ),
    )
    expect(r.insn).toBe(12)
    expect(r.explanation).toMatch(/reads the IPv4 header \(byte 14, 1 byte\)/)
    expect(r.explanation).toMatch(/proven only the Ethernet header \(14 bytes\)/)
    expect(r.explanation).toMatch(/\(ip \+ 1\) > data_end/)
    expect(r.explanation).not.toMatch(/eth/)
  })
  it('an unchecked Ethernet read, with nothing proven, names the Ethernet header and eth', () => {
    const r = explainVerifierLog(
      log(
        '; if (eth->h_proto != bpf_htons(ETH_P_IP)) @ ebpfcni.bpf.c:17',
        '1: (71) r3 = *(u8 *)(r2 +13)',
        'invalid access to packet, off=13 size=1, R2(id=0,off=13,r=0)',
      ),
    )
    expect(r.explanation).toMatch(/reads the Ethernet header .* proven no byte to be inside the frame/)
    expect(r.explanation).toMatch(/\(eth \+ 1\) > data_end/)
  })
  it('a check with its parenthesis misplaced ((void *)eth + 1) says what it proves and what (eth + 1) would', () => {
    const eth = explainVerifierLog(
      log(
        '; if (eth->h_proto != bpf_htons(ETH_P_IP)) @ ebpfcni.bpf.c:17',
        '3: (71) r3 = *(u8 *)(r2 +12)',
        'invalid access to packet, off=12 size=1, R2(id=0,off=12,r=1)',
      ),
    )
    expect(eth.explanation).toMatch(
      /your check proves 1 byte: `\(void \*\)eth \+ 1` adds 1 byte; `\(void \*\)\(eth \+ 1\)` adds sizeof\(struct ethhdr\), 14/,
    )
    const ip = explainPacketAccess(
      'invalid access to packet, off=23 size=1, R3(id=0,off=23,r=15)',
      'if (ip->protocol != IPPROTO_TCP)',
    )
    expect(ip).toMatch(
      /proves 15 bytes, 1 byte of the IPv4 header: `\(void \*\)ip \+ 1` adds 1 byte; `\(void \*\)\(ip \+ 1\)` adds sizeof\(struct iphdr\), 20/,
    )
    // A whole header proven and the next one read is the missing check, not a misplaced parenthesis.
    expect(explainPacketAccess('invalid access to packet, off=14 size=1, R3(id=0,off=14,r=14)', 'ip->ihl')).not.toMatch(
      /adds 1 byte/,
    )
  })
  it('the pointer is taken from the read side of an assignment', () => {
    expect(readPointer('e->eth_proto = eth->h_proto;')).toBe('eth')
    expect(readPointer('if (ip->ihl == 5 && x)')).toBe('ip')
    expect(readPointer('__u32 key = ip->saddr;')).toBe('ip')
  })
  it('broken inputs: no source line, no offsets — no header or pointer is made up', () => {
    expect(readPointer(undefined)).toBeUndefined()
    expect(readPointer('return XDP_PASS;')).toBeUndefined()
    const bare = explainPacketAccess('R3 offset is outside of the packet')
    expect(bare).toMatch(/bounds check/)
    expect(bare).not.toMatch(/Ethernet|IPv4|eth|\bip\b/)
    const noLog = explainVerifierLog('')
    expect(noLog.explanation).toBeUndefined()
    expect(noLog.insn).toBeUndefined()
  })
})

const diag = (message: string, severity: Diagnostic['severity'] = 'warning'): Diagnostic => ({
  file: '/root/ebpfcni-lab/ebpfcni.bpf.c',
  line: 165,
  column: 45,
  severity,
  message,
  snippet: [],
})

describe('clang diagnostics, said for a lab program', () => {
  it("an skb passed to xdp_drop is named as TC's skb in an XDP helper, with tc_drop as the fix", () => {
    const d = diag(
      "incompatible pointer types passing 'struct __sk_buff *' to parameter of type 'struct xdp_md *' [-Wincompatible-pointer-types]",
    )
    expect(diagnosticLine(d)).toBe(
      "ebpfcni.bpf.c:165:45: incompatible pointer types passing 'struct __sk_buff *' to parameter of type 'struct xdp_md *'",
    )
    expect(explainDiagnostic(d)).toMatch(/TC program's skb passed to an XDP helper.*tc_drop\(skb, …\)/)
  })
  it('the reverse, and any other pointer mismatch, say what was passed', () => {
    expect(
      explainDiagnostic(
        diag("incompatible pointer types passing 'struct xdp_md *' to parameter of type 'struct __sk_buff *'"),
      ),
    ).toMatch(/xdp_drop\(ctx, …\)/)
    expect(
      explainDiagnostic(
        diag("incompatible pointer types passing 'struct iphdr *' to parameter of type 'struct ethhdr *'"),
      ),
    ).toMatch(/passes struct iphdr \* where struct ethhdr \* is expected/)
  })
  it('an unused data_end means no bounds check; undeclared names point at the headers or a typo', () => {
    expect(explainDiagnostic(diag("unused variable 'data_end' [-Wunused-variable]"))).toMatch(/no bounds check/)
    expect(explainDiagnostic(diag("use of undeclared identifier 'ETH_P_IP'", 'error'))).toMatch(/#include/)
    expect(explainDiagnostic(diag("use of undeclared identifier 'iph'", 'error'))).toMatch(/typo/)
    expect(explainDiagnostic(diag("implicit declaration of function 'bpf_printk'"))).toMatch(/bpf_helpers\.h/)
  })
  it('a diagnostic it does not know gets no made-up cause', () => {
    expect(explainDiagnostic(diag('something clang 30 says'))).toBeUndefined()
    expect(explainDiagnostic(diag("unused variable 'x'"))).toBeUndefined()
  })
})

// llvm-dwarfdump --debug-info, cut to what matters: two programs at address 0 of their own sections.
const DUMP = `
0x0000000b: DW_TAG_compile_unit
              DW_AT_name	("/root/ebpfcni-lab/ebpfcni.bpf.c")

0x000006e3:   DW_TAG_subprogram
                DW_AT_name	("emit_flow")
                DW_AT_decl_file	("/usr/lib/ebpfcni/bpf/ebpfcni_flow.h")
                DW_AT_decl_line	(101)
                DW_AT_inline	(DW_INL_inlined)

0x00000665:   DW_TAG_subprogram
                DW_AT_name	("xdp_drop")
                DW_AT_decl_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")
                DW_AT_inline	(DW_INL_inlined)

0x000006c6:   DW_TAG_subprogram
                DW_AT_name	("emit_xdp")
                DW_AT_decl_file	("/usr/lib/ebpfcni/bpf/ebpfcni_flow.h")
                DW_AT_inline	(DW_INL_inlined)

0x00000870:   DW_TAG_subprogram
                DW_AT_low_pc	(0x0000000000000000)
                DW_AT_high_pc	(0x0000000000000980)
                DW_AT_name	("xdp_prog")
                DW_AT_decl_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")

0x00000932:     DW_TAG_inlined_subroutine
                  DW_AT_abstract_origin	(0x00000665 "xdp_drop")
                  DW_AT_ranges	(indexed (0x0) rangelist = 0x000000a8
                     [0x00000000000001f8, 0x0000000000000358)
                     [0x0000000000000778, 0x0000000000000970))
                  DW_AT_call_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")
                  DW_AT_call_line	(129)

0x00000961:       DW_TAG_inlined_subroutine
                    DW_AT_abstract_origin	(0x000006c6 "emit_xdp")
                    DW_AT_low_pc	(0x0000000000000248)
                    DW_AT_high_pc	(0x0000000000000358)
                    DW_AT_call_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")
                    DW_AT_call_line	(86)

0x00000990:         DW_TAG_inlined_subroutine
                      DW_AT_abstract_origin	(0x000006e3 "emit_flow")
                      DW_AT_low_pc	(0x0000000000000248)
                      DW_AT_high_pc	(0x0000000000000358)
                      DW_AT_call_file	("/usr/lib/ebpfcni/bpf/ebpfcni_flow.h")
                      DW_AT_call_line	(151)

0x000009a0:         NULL

0x000009a1:       NULL

0x000009a2:     NULL

0x00000f10:   DW_TAG_subprogram
                DW_AT_low_pc	(0x0000000000000000)
                DW_AT_high_pc	(0x0000000000001e08)
                DW_AT_name	("to_pod")
                DW_AT_decl_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")

0x00000f40:     DW_TAG_lexical_block
                  DW_AT_low_pc	(0x0000000000000d00)
                  DW_AT_high_pc	(0x0000000000000f00)

0x00000f50:       DW_TAG_inlined_subroutine
                    DW_AT_abstract_origin	(0x00000665 "xdp_drop")
                    DW_AT_low_pc	(0x0000000000000d00)
                    DW_AT_high_pc	(0x0000000000000f00)
                    DW_AT_call_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")
                    DW_AT_call_line	(165)

0x00000f60:         DW_TAG_inlined_subroutine
                      DW_AT_abstract_origin	(0x000006c6 "emit_xdp")
                      DW_AT_low_pc	(0x0000000000000d80)
                      DW_AT_high_pc	(0x0000000000000f00)
                      DW_AT_call_file	("/root/ebpfcni-lab/ebpfcni.bpf.c")
                      DW_AT_call_line	(86)

0x00000f70:           DW_TAG_inlined_subroutine
                        DW_AT_abstract_origin	(0x000006e3 "emit_flow")
                        DW_AT_low_pc	(0x0000000000000d80)
                        DW_AT_high_pc	(0x0000000000000f00)
                        DW_AT_call_file	("/usr/lib/ebpfcni/bpf/ebpfcni_flow.h")
                        DW_AT_call_line	(151)
`

describe("a refusal inside a provided header, traced to the learner's call", () => {
  it('instruction 444 lies in to_pod only (xdp_prog is shorter): the chain starts at line 165', () => {
    expect(inlineChain(DUMP, 444, 'ebpfcni_flow.h')).toEqual([
      {fn: 'xdp_drop', callFile: '/root/ebpfcni-lab/ebpfcni.bpf.c', callLine: 165},
      {fn: 'emit_xdp', callFile: '/root/ebpfcni-lab/ebpfcni.bpf.c', callLine: 86},
      {fn: 'emit_flow', callFile: '/usr/lib/ebpfcni/bpf/ebpfcni_flow.h', callLine: 151},
    ])
  })
  it('broken inputs: an empty dump, an address no program covers, another file, two programs that fit', () => {
    expect(inlineChain('', 444, 'ebpfcni_flow.h')).toBeUndefined()
    expect(inlineChain('not a dwarf dump\n0x: DW_TAG_', 444, 'ebpfcni_flow.h')).toBeUndefined()
    expect(inlineChain(DUMP, 5000, 'ebpfcni_flow.h')).toBeUndefined()
    expect(inlineChain(DUMP, 444, 'ebpfcni_conntrack.h')).toBeUndefined()
    // Instruction 80 (byte 0x280): both programs' emit_flow would fit if to_pod covered it too.
    const both = DUMP.replace(
      'DW_AT_low_pc\t(0x0000000000000d00)\n                  DW_AT_high_pc\t(0x0000000000000f00)',
      'DW_AT_low_pc\t(0x0000000000000000)\n                  DW_AT_high_pc\t(0x0000000000000f00)',
    )
      .replaceAll('(0x0000000000000d00)', '(0x0000000000000200)')
      .replaceAll('(0x0000000000000d80)', '(0x0000000000000200)')
    expect(inlineChain(DUMP, 80, 'ebpfcni_flow.h')?.[0].callLine).toBe(129)
    expect(inlineChain(both, 80, 'ebpfcni_flow.h')).toBeUndefined()
  })
})
