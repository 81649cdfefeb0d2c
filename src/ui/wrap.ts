import chalk from 'chalk'

// Text fitted to a terminal's width: lines wrapped at spaces (never mid-word) with a hanging indent,
// and tables reflowed into narrower columns, or shown as a list when even that does not fit.
// ANSI colour codes take no room and are carried over line breaks.

// eslint-disable-next-line no-control-regex -- SGR escapes are what is measured and carried
const SGR = /\u001b\[[0-9;]*m/g

/** The text without its colour codes. */
export const stripAnsi = (s: string): string => s.replace(SGR, '')

/** The columns a line takes on screen (colour codes take none). */
export const visibleWidth = (s: string): number => [...stripAnsi(s)].length

/** The terminal's width; 100 when output is not a terminal (a pipe, a file). */
export const terminalWidth = (): number => process.stdout.columns || 100

/** Which SGR codes close which: a code that closes none opens a style. */
const closes: Record<string, RegExp> = {
  '0': /./,
  '22': /^(1|2)$/,
  '23': /^3$/,
  '24': /^4$/,
  '27': /^7$/,
  '29': /^9$/,
  '39': /^(3[0-7]|9[0-7]|38;.*)$/,
  '49': /^(4[0-7]|10[0-7]|48;.*)$/,
}

/** The styles still open at the end of `s`, given those open at its start. */
function openAfter(s: string, open: string[]): string[] {
  let now = [...open]
  for (const m of s.matchAll(SGR)) {
    const code = m[0].slice(2, -1) || '0'
    const closer = closes[code]
    now = closer ? now.filter((o) => !closer.test(o.slice(2, -1))) : [...now, m[0]]
  }
  return now
}

/** Each line closes the styles it leaves open and the next reopens them (table borders stay plain). */
function carryStyles(lines: string[]): string[] {
  let open: string[] = []
  return lines.map((l) => {
    const start = open.join('')
    open = openAfter(l, open)
    return start + l + (open.length ? '\u001b[0m' : '')
  })
}

/**
 * One line wrapped at spaces to `width`; the lines after the first are indented like its text
 * (a list item's text, not its bullet), less when a long word would not fit otherwise. A word
 * longer than the whole width stays whole.
 */
export function wrapLine(line: string, width: number, hanging?: number): string[] {
  if (visibleWidth(line) <= width) return [line]
  const plain = line.replace(SGR, '')
  const lead = plain.match(/^\s*(?:(?:\d+\.|[*•-])\s+)?/)![0].length
  const indent = ' '.repeat(Math.min(hanging ?? lead, Math.floor(width / 2)))
  // Split after the leading part (its visible characters, escape codes kept with the words).
  let seen = 0
  let at = 0
  while (seen < lead && at < line.length) {
    // eslint-disable-next-line no-control-regex -- an SGR escape at this position
    const esc = line.slice(at).match(/^\u001b\[[0-9;]*m/)
    at += esc ? esc[0].length : 1
    if (!esc) seen++
  }
  const head = line.slice(0, at)
  const words = line.slice(at).split(/ +/).filter(Boolean)
  const out: string[] = []
  let cur = head
  let empty = true
  for (const w of words) {
    if (!empty && visibleWidth(cur) + 1 + visibleWidth(w) > width) {
      out.push(cur)
      // A word too long for the indented line starts further left, so it still fits the width.
      cur = indent.slice(0, Math.max(0, width - visibleWidth(w))) + w
    } else cur = empty ? cur + w : `${cur} ${w}`
    empty = false
  }
  out.push(cur)
  return carryStyles(out)
}

/** Words of `text` in lines of at most `width` (a longer word alone on its line). */
function cellLines(text: string, width: number): string[] {
  const lines: string[] = []
  let cur = ''
  for (const w of text.split(/ +/).filter(Boolean)) {
    if (cur && visibleWidth(cur) + 1 + visibleWidth(w) > width) {
      lines.push(cur)
      cur = w
    } else cur = cur ? `${cur} ${w}` : w
  }
  lines.push(cur)
  return carryStyles(lines)
}

const longestWord = (s: string): number => Math.max(0, ...s.split(/ +/).map(visibleWidth))

/**
 * Column widths that fit `room` characters of content: each at least its longest word, the rest
 * shared by what each column would need on one line. undefined: not even the longest words fit.
 */
export function fitColumns(headers: string[], rows: string[][], room: number): number[] | undefined {
  const cells = (i: number) => [headers[i], ...rows.map((r) => r[i] ?? '')]
  const natural = headers.map((_, i) => Math.max(1, ...cells(i).map(visibleWidth)))
  if (natural.reduce((a, b) => a + b, 0) <= room) return natural
  const min = headers.map((_, i) => Math.max(1, ...cells(i).map(longestWord)))
  const spare = room - min.reduce((a, b) => a + b, 0)
  if (spare < 0) return undefined
  const want = natural.map((n, i) => n - min[i])
  const wanted = want.reduce((a, b) => a + b, 0)
  const widths = min.map((m, i) => m + Math.floor((spare * want[i]) / wanted))
  // What rounding left over goes to the columns that still want room, widest want first.
  let left = room - widths.reduce((a, b) => a + b, 0)
  for (const i of want.map((w, i) => ({w, i})).sort((a, b) => b.w - a.w))
    if (left > 0 && widths[i.i] < natural[i.i]) {
      widths[i.i]++
      left--
    }
  return widths
}

/**
 * A table in a box no wider than `width`: cells wrapped at words in narrower columns when it does
 * not fit on one line each; when even that does not fit, a list (a row per entry, a column per line).
 */
export function fitTable(headers: string[], rows: string[][], width: number): string {
  const n = headers.length
  const widths = fitColumns(headers, rows, width - (3 * n + 1))
  if (!widths) return tableAsList(headers, rows, width)
  const rule = (l: string, m: string, r: string) => l + widths.map((w) => '─'.repeat(w + 2)).join(m) + r
  const row = (cells: string[], style: (s: string) => string = (s) => s): string[] => {
    const wrapped = widths.map((w, i) => cellLines(cells[i] ?? '', w))
    const height = Math.max(...wrapped.map((c) => c.length))
    return Array.from(
      {length: height},
      (_, k) =>
        '│' +
        wrapped
          .map((c, i) => {
            const s = c[k] ?? ''
            return ` ${s ? style(s) : ''}${' '.repeat(widths[i] - visibleWidth(s))} `
          })
          .join('│') +
        '│',
    )
  }
  return [
    rule('┌', '┬', '┐'),
    ...row(headers, chalk.bold),
    ...rows.flatMap((r) => [rule('├', '┼', '┤'), ...row(r)]),
    rule('└', '┴', '┘'),
  ].join('\n')
}

/** A table too wide for the terminal as a list: each row's first cell, then "header: cell" lines. */
export function tableAsList(headers: string[], rows: string[][], width: number): string {
  return rows
    .map((r) =>
      [
        ...wrapLine(`${chalk.bold(r[0] ?? '')}`, width, 2),
        ...headers.slice(1).flatMap((h, i) => wrapLine(`  ${chalk.dim(`${h}:`)} ${r[i + 1] ?? ''}`, width, 4)),
      ].join('\n'),
    )
    .join('\n\n')
}
