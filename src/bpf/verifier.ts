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
  /** The index of the instruction the verifier refused (as in the log's `N: (op) …` lines). */
  insn?: number
}

/** Where a frame's bytes lie, assuming no VLAN tag and a 20-byte IPv4 header: offsets named for the learner. */
const HEADERS: Array<[end: number, name: string]> = [
  [14, 'the Ethernet header'],
  [34, 'the IPv4 header'],
  [Infinity, 'the TCP/UDP header'],
]
const headerAt = (off: number): string => HEADERS.find(([end]) => off < end)![1]
/** Where the header holding byte `off` starts. */
const headerStart = (off: number): number => [...HEADERS].reverse().find(([end]) => end <= off)?.[0] ?? 0
/** sizeof the header starting at `start`, as the learner writes it (a TCP/UDP header by its pointer's name). */
const headerSize = (start: number, ptr: string): string =>
  start === 0
    ? 'sizeof(struct ethhdr), 14'
    : start === 14
      ? 'sizeof(struct iphdr), 20'
      : /udp/i.test(ptr)
        ? 'sizeof(struct udphdr), 8'
        : /tcp/i.test(ptr)
          ? 'sizeof(struct tcphdr), 20'
          : `sizeof(*${ptr})`
const proven = (r: number): string =>
  r <= 0
    ? 'no byte'
    : r === 14
      ? 'only the Ethernet header (14 bytes)'
      : r === 34
        ? 'the Ethernet and IPv4 headers (34 bytes)'
        : `the first ${r} bytes`

/** The pointer a source line reads through (`x->field`), on the read side of an assignment. */
export function readPointer(sourceText: string | undefined): string | undefined {
  if (!sourceText) return undefined
  const assign = /[^=!<>]=[^=]/.exec(sourceText)
  const readSide = assign ? sourceText.slice(assign.index + 2) : sourceText
  return (/\b([A-Za-z_]\w*)\s*->/.exec(readSide) ?? /\b([A-Za-z_]\w*)\s*->/.exec(sourceText))?.[1]
}

/**
 * A packet read the verifier could not prove inside the frame, explained from what it saw: which
 * header the read falls in (its offset), what was proven (`r=`), and the pointer the source line reads.
 */
export function explainPacketAccess(tail: string, sourceText?: string): string {
  const m = /invalid access to packet, off=(\d+) size=(\d+).*?\br=(\d+)/.exec(tail)
  const ptr = readPointer(sourceText)
  const check = ptr
    ? `\`if ((void *)(${ptr} + 1) > data_end) return XDP_PASS;\` before this read of ${ptr}->`
    : 'a bounds check before this read, e.g. `if ((void *)(hdr + 1) > data_end) return XDP_PASS;` for a pointer hdr to that header'
  if (!m) return `Packet access without a bounds check the verifier can see: add ${check}.`
  const [off, size, r] = [Number(m[1]), Number(m[2]), Number(m[3])]
  // Walked: `(void *)eth + 1 > data_end` (a parenthesis misplaced) proves 1 byte past the header's
  // start, and "add if ((void *)(eth + 1) > data_end)" read as "I did".
  const start = headerStart(off)
  if (r === start + 1 && off + size > r) {
    const name = ptr ?? 'hdr'
    const whole = headerSize(start, name)
    return `Packet access past your bounds check: this line reads ${headerAt(off)} (byte ${off}, ${size} byte${size === 1 ? '' : 's'}) and your check proves ${r === 1 ? '1 byte' : `${r} bytes, 1 byte of ${headerAt(off)}`}: \`(void *)${name} + 1\` adds 1 byte; \`(void *)(${name} + 1)\` adds ${whole}. Write ${check}.`
  }
  return `Packet access without a bounds check: this line reads ${headerAt(off)} (byte ${off}, ${size} byte${size === 1 ? '' : 's'}) where the verifier has proven ${proven(r)} to be inside the frame: add ${check}.`
}

const PACKET_ACCESS = /invalid access to packet|R\d+ offset is outside of the packet/

/**
 * A verifier line for a learner's message: "R3 offset is outside of the packet" names a register,
 * which the learner never wrote; said instead through the pointer the source line reads (`ip->ihl`:
 * ip), or without the register when the line names none. Other lines are returned as they are.
 */
export function verifierLineInWords(line: string, sourceText?: string): string {
  if (!/^R\d+ offset is outside of the packet/.test(line)) return line
  const ptr = readPointer(sourceText)
  return ptr
    ? `it cannot prove that the read through ${ptr} stays inside the packet`
    : 'it cannot prove that this packet read stays inside the packet'
}

const EXPLANATIONS: Array<[RegExp, string]> = [
  [
    /back-edge|unbounded loop|infinite loop detected|loop is not bounded/,
    'A loop the verifier cannot prove finishes: give it a constant bound (`for (int i = 0; i < 16; i++)`), or use bpf_loop().',
  ],
  [
    /GPL-compatible license|cannot call GPL-restricted function/,
    'Missing license: helpers like bpf_trace_printk need a GPL-compatible license. Add `char LICENSE[] SEC("license") = "GPL";`.',
  ],
  [
    // "R0 has smin=0 smax=0 should have been in [1, 1]" (6.x), "R0 has value (0x0; 0x0) should have been in (0x1; 0x1)" (6.1).
    /At program exit the register R0 has .*should have been in/,
    'A return value this program type does not allow, on some path (the range the verifier wants is in its last line): a cgroup socket-address program returns 1 to let the call go on; connect4 and sendmsg4 may also return 0 to refuse it, recvmsg4 and getpeername4 must return 1 on every path.',
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

const NULL_MAP_VALUE = /invalid mem access 'map_value_or_null'/

/**
 * A map value used without a NULL check. Walked (lab 3): with one `if (!n)` written, "a NULL check"
 * read as done; the missing one was after the insert. The insert is named only when the verifier's
 * path went through a bpf_map_update_elem call before the refused access (the log lists each call).
 */
/**
 * The lines of the path the verifier refused, from a log that lists every path it walked: the last
 * one ("from A to B:" opens a path pushed at the jump A), and before it the path that walked A, up to
 * A, back to the program's start. Without such lines the log is one path.
 */
export function refusedPath(lines: string[]): string[] {
  const paths: Array<{from?: number; lines: string[]}> = [{lines: []}]
  for (const l of lines) {
    const m = /^from (\d+) to \d+:/.exec(l)
    if (m) paths.push({from: Number(m[1]), lines: []})
    else paths[paths.length - 1].lines.push(l)
  }
  const walked: string[] = []
  let i = paths.length - 1
  let upTo: number | undefined
  for (;;) {
    const cut = upTo === undefined ? -1 : paths[i].lines.findIndex((l) => l.startsWith(`${upTo}: (`))
    walked.unshift(...(cut >= 0 ? paths[i].lines.slice(0, cut + 1) : paths[i].lines))
    const from = paths[i].from
    if (from === undefined) return walked
    // The latest path before this one that walked the jump this one was pushed at.
    let j = i - 1
    while (j >= 0 && !paths[j].lines.some((l) => l.startsWith(`${from}: (`))) j--
    if (j < 0) return walked
    ;[i, upTo] = [j, from]
  }
}

export function explainNullMapValue(path: string[]): string {
  const fix =
    'NULL-check after each lookup: `__u64 *v = bpf_map_lookup_elem(&map, &key); if (!v) …;` before touching *v.'
  const inserted = path.some((l) => /\bcall bpf_map_update_elem#/.test(l))
  return inserted
    ? `A map value used without a NULL check: every bpf_map_lookup_elem() may return NULL, the one after your insert (bpf_map_update_elem) too. ${fix}`
    : `A map value used without a NULL check: bpf_map_lookup_elem() returns NULL when the key is not in the map. ${fix}`
}

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
  const explanation = PACKET_ACCESS.test(tail)
    ? explainPacketAccess(tail, source?.text)
    : NULL_MAP_VALUE.test(tail)
      ? explainNullMapValue(refusedPath(lines.slice(0, upTo)))
      : EXPLANATIONS.find(([re]) => re.test(tail))?.[1]
  let insn: number | undefined
  for (let i = upTo - 1; i >= 0 && insn === undefined; i--) {
    const m = /^(\d+): \(/.exec(lines[i])
    if (m) insn = Number(m[1])
  }
  return {lastLines, source, explanation, insn}
}
