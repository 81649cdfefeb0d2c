import {basename} from 'node:path'
import {run} from '../host/exec.js'

// Where an instruction the verifier refused was called from. clang inlines the helpers a lab
// provides (ebpfcni_flow.h's emit_flow, …), so the verifier's line is inside a header the learner
// never edited; DWARF's inlined-subroutine records (llvm-dwarfdump) lead back to the call the
// learner wrote.

/** One inlined call, outermost first: `fn` was called at callFile:callLine. */
export interface InlineFrame {
  fn: string
  callFile: string
  callLine: number
}

interface Die {
  offset: number
  tag: string
  indent: number
  attrs: Map<string, string>
  ranges: Array<[number, number]>
  children: Die[]
}

const TAG = /^0x([0-9a-f]+):(\s+)(DW_TAG_\w+)/
const ATTR = /^\s+(DW_AT_\w+)\s+\((.*)$/
const RANGE = /\[0x([0-9a-f]+), 0x([0-9a-f]+)\)/g

/** llvm-dwarfdump --debug-info text as a tree of DIEs (compile units at the top). */
export function parseDwarfDump(text: string): Die[] {
  const roots: Die[] = []
  const stack: Die[] = []
  let cur: Die | undefined
  let lastAttr = ''
  for (const line of text.split('\n')) {
    const t = TAG.exec(line)
    if (t) {
      cur = {offset: parseInt(t[1], 16), tag: t[3], indent: t[2].length, attrs: new Map(), ranges: [], children: []}
      while (stack.length && stack.at(-1)!.indent >= cur.indent) stack.pop()
      ;(stack.length ? stack.at(-1)!.children : roots).push(cur)
      stack.push(cur)
      lastAttr = ''
      continue
    }
    if (!cur) continue
    const a = ATTR.exec(line)
    if (a) {
      lastAttr = a[1]
      cur.attrs.set(a[1], a[2])
    }
    if (lastAttr === 'DW_AT_ranges')
      for (const r of line.matchAll(RANGE)) cur.ranges.push([parseInt(r[1], 16), parseInt(r[2], 16)])
    if (/^0x[0-9a-f]+:\s+NULL/.test(line)) lastAttr = ''
  }
  for (const d of walk(roots)) {
    const lo = hex(d.attrs.get('DW_AT_low_pc'))
    const hi = hex(d.attrs.get('DW_AT_high_pc'))
    if (lo !== undefined && hi !== undefined && hi > lo) d.ranges.push([lo, hi])
  }
  return roots
}

function* walk(dies: Die[]): Generator<Die> {
  for (const d of dies) {
    yield d
    yield* walk(d.children)
  }
}

const hex = (v: string | undefined): number | undefined => {
  const m = /^0x([0-9a-f]+)/.exec(v ?? '')
  return m ? parseInt(m[1], 16) : undefined
}
/** The quoted part of an attribute's value: a name, or a file. */
const quoted = (v: string | undefined): string | undefined => /"([^"]*)"/.exec(v ?? '')?.[1]
const covers = (d: Die, addr: number): boolean => d.ranges.some(([lo, hi]) => addr >= lo && addr < hi)

/** The inlined calls under `d` that cover addr, outermost first (lexical blocks looked through). */
function inlinedAt(d: Die, addr: number, byOffset: Map<number, Die>): InlineFrame[] {
  for (const c of d.children) {
    if (c.tag === 'DW_TAG_lexical_block') {
      const inner = inlinedAt(c, addr, byOffset)
      if (inner.length) return inner
    }
    if (c.tag !== 'DW_TAG_inlined_subroutine' || !covers(c, addr)) continue
    const origin = byOffset.get(hex(c.attrs.get('DW_AT_abstract_origin')) ?? -1)
    const frame: InlineFrame = {
      fn: quoted(c.attrs.get('DW_AT_abstract_origin')) ?? quoted(origin?.attrs.get('DW_AT_name')) ?? '?',
      callFile: quoted(c.attrs.get('DW_AT_call_file')) ?? '?',
      callLine: Number(/\d+/.exec(c.attrs.get('DW_AT_call_line') ?? '')?.[0] ?? 0),
    }
    return [frame, ...inlinedAt(c, addr, byOffset)]
  }
  return []
}

/**
 * The inlined calls that lead to instruction `insn` of a program, outermost first, or undefined when
 * the dump cannot say. Which program refused is not in the verifier's log: the one whose innermost
 * inlined function is declared in `file` (the verifier's source file) is taken, and only if it is
 * the only one.
 */
export function inlineChain(dump: string, insn: number, file: string): InlineFrame[] | undefined {
  const roots = parseDwarfDump(dump)
  const byOffset = new Map([...walk(roots)].map((d) => [d.offset, d] as const))
  const candidates: InlineFrame[][] = []
  for (const d of walk(roots)) {
    if (d.tag !== 'DW_TAG_subprogram' || !d.attrs.has('DW_AT_low_pc') || !d.attrs.has('DW_AT_name')) continue
    const addr = hex(d.attrs.get('DW_AT_low_pc'))! + insn * 8
    if (!covers(d, addr)) continue
    const chain = inlinedAt(d, addr, byOffset)
    if (!chain.length) continue
    const innermost = [...walk(roots)].find(
      (x) => x.tag === 'DW_TAG_subprogram' && quoted(x.attrs.get('DW_AT_name')) === chain.at(-1)!.fn,
    )
    if (basename(quoted(innermost?.attrs.get('DW_AT_decl_file')) ?? '') === basename(file)) candidates.push(chain)
  }
  return candidates.length === 1 ? candidates[0] : undefined
}

/** inlineChain over an object file, through llvm-dwarfdump (undefined when it is missing or fails). */
export async function inlineChainInObject(
  object: string,
  insn: number,
  file: string,
): Promise<InlineFrame[] | undefined> {
  const r = await run('llvm-dwarfdump', ['--debug-info', object], {timeoutMs: 10_000, maxOutputBytes: 16 * 1024 * 1024})
  if (r.startError || r.timedOut || r.exitCode !== 0) return undefined
  return inlineChain(r.stdout, insn, file)
}
