import {describe, it, expect} from 'vitest'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {repoRoot} from '../helpers/env.js'

// Commands are thin (issue 36): an oclif command's `async run()` parses flags, calls a service and
// renders; its logic lives in the layer it belongs to. A run() is at most MAX_LINES lines, counted
// from the line of `async run(` to the line of its closing brace, both included.
const MAX_LINES = 40

/** Index just past the string, template, comment or regex literal starting at i, or i if none starts there. */
function skipLiteral(text: string, i: number): number {
  const c = text[i]
  if (c === '/' && text[i + 1] === '/') {
    const end = text.indexOf('\n', i)
    return end < 0 ? text.length : end
  }
  if (c === '/' && text[i + 1] === '*') {
    const end = text.indexOf('*/', i + 2)
    if (end < 0) throw new Error(`unterminated comment at offset ${i}`)
    return end + 2
  }
  if (c === "'" || c === '"') {
    let j = i + 1
    while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1
    if (j >= text.length) throw new Error(`unterminated string at offset ${i}`)
    return j + 1
  }
  if (c === '`') {
    let j = i + 1
    while (j < text.length && text[j] !== '`') {
      if (text[j] === '\\') j += 2
      else if (text[j] === '$' && text[j + 1] === '{') j = matchBrace(text, j + 1) + 1
      else j++
    }
    if (j >= text.length) throw new Error(`unterminated template at offset ${i}`)
    return j + 1
  }
  if (c === '/') {
    // A regex literal when the previous significant character cannot end an operand.
    let k = i - 1
    while (k >= 0 && /\s/.test(text[k])) k--
    const before = text.slice(Math.max(0, k - 5), k + 1)
    if (k < 0 || /[(,=:[!&|?{};+\-*%<>~^]$/.test(before) || /\breturn$/.test(before)) {
      let j = i + 1
      let inClass = false
      while (j < text.length && text[j] !== '\n') {
        if (text[j] === '\\') j += 2
        else if (text[j] === '/' && !inClass) return j + 1
        else {
          if (text[j] === '[') inClass = true
          else if (text[j] === ']') inClass = false
          j++
        }
      }
    }
  }
  return i
}

/** Index of the `}` matching the `{` at open, skipping strings, templates, comments and regexes. */
function matchBrace(text: string, open: number): number {
  let depth = 0
  for (let i = open; i < text.length;) {
    const next = skipLiteral(text, i)
    if (next !== i) {
      i = next
      continue
    }
    if (text[i] === '{') depth++
    else if (text[i] === '}' && --depth === 0) return i
    i++
  }
  throw new Error(`no closing brace for the one at offset ${open}`)
}

const lineOf = (text: string, offset: number) => text.slice(0, offset).split('\n').length

/** Lines of the `async run()` method (signature line to closing brace), or undefined without one. */
export function runLength(source: string): number | undefined {
  const start = source.search(/\basync\s+run\s*\(/)
  if (start < 0) return undefined
  // Past the parameter list, then past a return type such as Promise<{a: string[]}> to the body's brace.
  let i = source.indexOf('(', start)
  for (let parens = 0; ; i++) {
    if (source[i] === '(') parens++
    else if (source[i] === ')' && --parens === 0) break
  }
  let angles = 0
  let braces = 0
  for (i++; i < source.length; i++) {
    const c = source[i]
    if (c === '=' && source[i + 1] === '>') i++
    else if (c === '<') angles++
    else if (c === '>') angles--
    else if (c === '{' && angles === 0 && braces === 0) break
    else if (c === '{') braces++
    else if (c === '}') braces--
  }
  const close = matchBrace(source, i)
  return lineOf(source, close) - lineOf(source, start) + 1
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

const commands = files(join(repoRoot, 'src/commands'))
  .map((p) => ({file: relative(repoRoot, p), lines: runLength(readFileSync(p, 'utf8'))}))
  .sort((a, b) => a.file.localeCompare(b.file))

/** One line per command whose run() is longer than MAX_LINES. */
const tooLong = (measured: Array<{file: string; lines: number | undefined}>) =>
  measured
    .filter((m) => (m.lines ?? 0) > MAX_LINES)
    .map((m) => `${m.file}: run() is ${m.lines} lines (at most ${MAX_LINES}); move its logic into its layer`)

/** A command source whose run() is `lines` lines long, with braces where a naive count would trip. */
const synthetic = (lines: number) =>
  [
    "import {Command} from '@oclif/core'",
    'export default class Fat extends Command {',
    '  async run(): Promise<{done: boolean}> {',
    "    const s = `a ${'}'} b` // a } in a template and a comment",
    "    const r = /[}]/.test('}')",
    ...Array.from({length: lines - 5}, (_, n) => `    this.log('line ${n} {')`),
    '    return {done: true}',
    '  }',
    '',
    '  other(): void {}',
    '}',
    '',
  ].join('\n')

describe('thin commands', () => {
  it('finds a run() in every command file', () => {
    expect(commands.length).toBeGreaterThan(30)
    expect(commands.filter((c) => c.lines === undefined).map((c) => c.file)).toEqual([])
  })

  it(`keeps every command's run() at ${MAX_LINES} lines or fewer`, () => {
    expect(tooLong(commands), 'commands whose run() is too long').toEqual([])
  })

  it('measures the run() method, braces in strings, templates, comments and regexes aside', () => {
    expect(runLength(synthetic(40))).toBe(40)
    expect(tooLong([{file: 'src/commands/fat.ts', lines: runLength(synthetic(40))}])).toEqual([])
    expect(runLength('export default class X { static flags = {} }')).toBeUndefined()
  })

  it('fails on a 41-line run(), naming the file and its line count', () => {
    const lines = runLength(synthetic(41))
    expect(lines).toBe(41)
    expect(tooLong([{file: 'src/commands/fat.ts', lines}])).toEqual([
      'src/commands/fat.ts: run() is 41 lines (at most 40); move its logic into its layer',
    ])
  })
})
