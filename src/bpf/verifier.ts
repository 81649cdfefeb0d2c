// Turning a verifier log into teaching: the last lines, the C source line the failing
// instruction came from (the kernel prints BTF line info as "; <source> @ file.c:LINE"),
// and a plain-English explanation for the common mistakes.

export interface VerifierReport {
  /** The verifier's own words: the last meaningful lines of the log. */
  lastLines: string[]
  /** Where in the C source the failing instruction comes from, when BTF line info says. */
  source?: {file: string; line: number; text: string}
  /** What went wrong and how to fix it, for the common cases. */
  explanation?: string
}

const EXPLANATIONS: Array<[RegExp, string]> = [
  [
    /invalid access to packet|R\d+ offset is outside of the packet/,
    'Packet access without a bounds check: before reading a header, prove to the verifier it lies inside the frame, e.g. `if ((void *)(eth + 1) > data_end) return XDP_PASS;` — then read eth->h_proto.',
  ],
  [
    /back-edge|unbounded loop|infinite loop detected|loop is not bounded/,
    'A loop the verifier cannot prove finishes: give it a constant bound (`for (int i = 0; i < 16; i++)`), or use bpf_loop().',
  ],
  [
    /invalid mem access 'map_value_or_null'|R\d+ invalid mem access 'map_value_or_null'/,
    'A map value used without a NULL check: bpf_map_lookup_elem() may return NULL. `__u64 *v = bpf_map_lookup_elem(&map, &key); if (!v) …;` before touching *v.',
  ],
  [
    /GPL-compatible license|cannot call GPL-restricted function/,
    'Missing license: helpers like bpf_trace_printk need a GPL-compatible license. Add `char LICENSE[] SEC("license") = "GPL";`.',
  ],
  [
    /R0 !read_ok|At program exit the register R0 (is not a known value|has)/,
    'The program can end without a return value: every path must `return XDP_PASS;` (or another verdict).',
  ],
  [
    /unknown func|invalid func/,
    'A helper this program type may not call (or a kernel too old for it): check the helper exists for XDP programs.',
  ],
  [
    /misaligned/,
    'A misaligned memory access: read multi-byte fields through their struct (e.g. iph->saddr), not at arbitrary byte offsets.',
  ],
  [
    /R\d+ !read_ok/,
    'A register is read before it was set: an uninitialised variable, often a path that skips an assignment.',
  ],
]

const SOURCE = /^; (.*) @ (\S+):(\d+)\s*$/

export function explainVerifierLog(log: string): VerifierReport {
  const lines = log
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
  // The summary line ("processed N insns …") follows the error; the error is just before it.
  const end = lines.findIndex((l) => l.startsWith('processed ') && l.includes('insns'))
  const upTo = end >= 0 ? end : lines.length
  const lastLines = lines.slice(Math.max(0, upTo - 6), upTo)
  let source: VerifierReport['source']
  for (let i = upTo - 1; i >= 0; i--) {
    const m = SOURCE.exec(lines[i])
    if (m) {
      source = {text: m[1].trim(), file: m[2], line: Number(m[3])}
      break
    }
  }
  const tail = lines.slice(Math.max(0, upTo - 8), upTo).join('\n')
  const explanation = EXPLANATIONS.find(([re]) => re.test(tail))?.[1]
  return {lastLines, source, explanation}
}
