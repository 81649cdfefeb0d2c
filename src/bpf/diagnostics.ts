import {basename} from 'node:path'
import type {Diagnostic} from './build.js'

// clang's diagnostics on a learner's BPF C, said for the learner: where (file:line:col), what clang
// said (without its -W flag), and, for the mistakes the labs see, the cause in the labs' words.

/** `ebpfcni.bpf.c:165:45: incompatible pointer types …` (the -W flag dropped). */
export function diagnosticLine(d: Diagnostic): string {
  return `${basename(d.file)}:${d.line}:${d.column}: ${d.message.replace(/\s*\[-W[^\]]*\]$/, '')}`
}

const HEADER_NAMES = /^(XDP_|TC_ACT_|ETH_P_|IPPROTO_|BPF_|REASON_|POLICY_|FLOW_|LIBBPF_)/

/** The cause behind a clang warning or error the labs see, or undefined for one it does not know. */
export function explainDiagnostic(d: Diagnostic): string | undefined {
  const m = d.message
  let x: RegExpExecArray | null
  if (/passing '(?:struct )?__sk_buff \*' to parameter of type '(?:struct )?xdp_md \*'/.test(m))
    return 'a TC program\'s skb passed to an XDP helper (xdp_drop, xdp_pass take an XDP ctx): in a SEC("tc") program call tc_drop(skb, …) or tc_pass(skb, …)'
  if (/passing '(?:struct )?xdp_md \*' to parameter of type '(?:struct )?__sk_buff \*'/.test(m))
    return 'an XDP ctx passed to a TC helper (tc_drop, tc_pass take the skb): in xdp_prog call xdp_drop(ctx, …) or xdp_pass(ctx, …)'
  if ((x = /incompatible pointer types passing '([^']+)' to parameter of type '([^']+)'/.exec(m)))
    return `the call passes ${x[1]} where ${x[2]} is expected: the wrong argument, or the helper for another program type`
  if (/unused variable 'data_end'/.test(m))
    return 'data_end is never used: no bounds check compares a header pointer with it, so no header read is proven inside the frame'
  if ((x = /implicit declaration of function '(\w+)'/.exec(m)))
    return `${x[1]} is not declared: its header is missing (bpf_printk and bpf_map_lookup_elem come from <bpf/bpf_helpers.h>, bpf_htons from <bpf/bpf_endian.h>), or the name is misspelt`
  if ((x = /use of undeclared identifier '(\w+)'/.exec(m)))
    return HEADER_NAMES.test(x[1])
      ? `${x[1]} comes from a header: keep the starter's #include lines (or the name is misspelt)`
      : `${x[1]} is not declared where it is used: a typo, or a variable declared later or inside another block`
  if (/expected ';'/.test(m)) return 'a statement just before this point lacks its closing ;'
  if ((x = /no member named '(\w+)' in '([^']+)'/.exec(m)))
    return `${x[2]} has no field ${x[1]}: look at its definition (linux/ip.h for struct iphdr, linux/if_ether.h for struct ethhdr)`
  return undefined
}
