import chalk from 'chalk'
import {table} from './render.js'
import {stepCounts, type AttendeeRow} from '../fleet/attendee.js'
import type {ResetRow} from '../fleet/reset.js'

// The instructor's tables: one row per attendee VM, stuck ones first, and a line per step.

const minutes = (m: number | undefined): string => (m === undefined ? '' : `${Math.floor(m)} min`)

// Who needs the instructor first: stuck, then VMs that do not answer, then the rest.
const order = (r: AttendeeRow): number =>
  r.stuck ? 0 : r.state === 'down' || r.state === 'error' ? 1 : r.state === 'bad-line' ? 2 : r.state === 'ok' ? 3 : 4

const sortRows = (rows: AttendeeRow[]): AttendeeRow[] =>
  [...rows].sort((a, b) => order(a) - order(b) || a.host.localeCompare(b.host, 'en', {numeric: true}))

export function fleetTable(rows: AttendeeRow[]): string {
  const body = sortRows(rows).map((r) => {
    if (r.state === 'down' || r.state === 'error' || r.state === 'bad-line')
      return [r.host, chalk.red(r.state), '', '', '', '', chalk.red(r.message ?? '')]
    if (r.state === 'idle') return [r.host, chalk.dim('not started'), '', '', '', '', chalk.dim(r.message ?? '')]
    return [
      r.host,
      `lab ${r.lab} ${r.step}`,
      minutes(r.minutesOnStep),
      String(r.attempts ?? 0),
      String(r.hints ?? 0),
      r.failing ?? '',
      r.stuck ? chalk.yellow(`stuck: no progress for ${minutes(r.minutesSinceProgress)}`) : '',
    ]
  })
  return table(['HOST', 'ON', 'FOR', 'CHECK RUNS', 'HINTS', 'FAILING CHECK', 'NOTE'], body)
}

export function fleetSummary(rows: AttendeeRow[]): string {
  const parts = stepCounts(rows).map(
    (c) => `${c.where}: ${c.count}${c.stuck ? chalk.yellow(` (${c.stuck} stuck)`) : ''}`,
  )
  const hosts = rows.filter((r) => r.state !== 'bad-line').length
  return `${hosts} attendee VM(s) · ${parts.join(' · ')}`
}

export interface ScreenSize {
  columns: number
  rows: number
}

/** `text` cut to `width` characters, the last one an ellipsis when cut. */
export const fit = (text: string, width: number): string =>
  width <= 0 ? '' : text.length <= width ? text : `${text.slice(0, Math.max(0, width - 1))}…`
const pad = (text: string, width: number): string => fit(text, width).padEnd(width)

/** The one line that says the fleet: how many VMs, stuck, not answering, working, not started. */
export function fleetCountLine(rows: AttendeeRow[]): string {
  const n = (f: (r: AttendeeRow) => boolean) => rows.filter(f).length
  const hosts = n((r) => r.state !== 'bad-line')
  const parts = [
    `${n((r) => r.stuck)} stuck`,
    `${n((r) => r.state === 'down')} down`,
    `${n((r) => r.state === 'error')} error`,
    `${n((r) => r.state === 'ok' && !r.stuck)} on a step`,
    `${n((r) => r.state === 'idle')} not started`,
    ...(n((r) => r.state === 'bad-line') ? [`${n((r) => r.state === 'bad-line')} not a host`] : []),
  ]
  return `${hosts} attendee VM(s): ${parts.join(' · ')}`
}

/**
 * The fleet as one screen of \`size\` (fleet top's live view): never a line wider than the terminal,
 * never more lines than it has, so a redraw never scrolls. A header, the count line, the attendees
 * per step (at most three lines), then one compact row per VM, stuck and not answering first; the
 * rows that do not fit are a count at the bottom. No line ends in a newline.
 */
export function fleetScreen(rows: AttendeeRow[], size: ScreenSize, header: string): string[] {
  const width = Math.max(20, size.columns)
  const out: string[] = [fit(header, width), fit(fleetCountLine(rows), width)]
  // The attendees per step, wrapped at the width; at most three lines, the rest counted.
  const steps = stepCounts(rows.filter((r) => r.state === 'ok')).map(
    (c) => `${c.where}: ${c.count}${c.stuck ? ` (${c.stuck} stuck)` : ''}`,
  )
  const stepLines: string[] = []
  let line = ''
  for (const [i, s] of steps.entries()) {
    const next = line ? `${line} · ${s}` : s
    if (next.length <= width) {
      line = next
      continue
    }
    if (stepLines.length === 2) {
      line = fit(`${line} · +${steps.length - i} more step(s)`, width)
      break
    }
    stepLines.push(line)
    line = fit(s, width)
  }
  if (line) stepLines.push(line)
  out.push(...stepLines)
  const budget = size.rows - out.length - 2 // a blank line and the table's header
  if (budget < 2) return out.slice(0, Math.max(1, size.rows))

  const sorted = sortRows(rows)
  const shown = sorted.length <= budget ? sorted : sorted.slice(0, budget - 1)
  const hidden = sorted.slice(shown.length)
  const w = {
    host: Math.min(28, Math.max(4, ...shown.map((r) => r.host.length))),
    on: Math.min(24, Math.max(2, ...shown.map((r) => (r.state === 'ok' ? `lab ${r.lab} ${r.step}`.length : 0)))),
    for: 7,
    runs: 4,
    hints: 5,
    failing: Math.min(26, Math.max(13, ...shown.map((r) => (r.failing ?? '').length))),
  }
  const headerCells = [
    pad('HOST', w.host),
    pad('ON', w.on),
    pad('FOR', w.for),
    pad('RUNS', w.runs),
    pad('HINTS', w.hints),
    pad('FAILING CHECK', w.failing),
    'NOTE',
  ]
  out.push('', chalk.bold(fit(headerCells.join('  '), width)))
  for (const r of shown) {
    const host = pad(r.host, w.host)
    if (r.state !== 'ok') {
      // A VM that did not answer (or has not started): its state and why, across the other columns.
      const why = fit(`${r.state === 'idle' ? 'not started' : r.state}: ${r.message ?? ''}`, width - w.host - 2)
      out.push(`${host}  ${r.state === 'idle' ? chalk.dim(why) : chalk.red(why)}`)
      continue
    }
    const cells = [
      host,
      pad(`lab ${r.lab} ${r.step}`, w.on),
      pad(minutes(r.minutesOnStep), w.for),
      pad(String(r.attempts ?? 0), w.runs),
      pad(String(r.hints ?? 0), w.hints),
      pad(r.failing ?? '', w.failing),
    ].join('  ')
    const note = r.stuck ? `stuck ${minutes(r.minutesSinceProgress)}` : ''
    const rest = width - cells.length - 2
    const text = note && rest > 0 ? `${cells}  ${chalk.yellow(fit(note, rest))}` : fit(cells, width).trimEnd()
    out.push(text.trimEnd())
  }
  if (hidden.length) {
    const by = (f: (r: AttendeeRow) => boolean, what: string) => {
      const k = hidden.filter(f).length
      return k ? [`${k} ${what}`] : []
    }
    const kinds = [
      ...by((r) => r.stuck, 'stuck'),
      ...by((r) => !r.stuck && (r.state === 'down' || r.state === 'error'), 'not answering'),
      ...by((r) => r.state === 'bad-line', 'not a host'),
      ...by((r) => r.state === 'ok' && !r.stuck, 'on a step'),
      ...by((r) => r.state === 'idle', 'not started'),
    ]
    out.push(chalk.dim(fit(`… ${hidden.length} more (${kinds.join(', ')}): fleet top --once lists every VM`, width)))
  }
  return out
}

/**
 * One redraw of fleet top's live view, as written to the terminal: the screen (or, when Prometheus
 * did not answer, the header and why) drawn over the last one from the top left, line by line (no
 * clear: no flicker), then what is below its last line cleared.
 */
export function liveFrame(rows: AttendeeRow[] | Error, size: ScreenSize, header: string): string {
  const lines =
    rows instanceof Error
      ? [fit(header, size.columns), chalk.red(fit(rows.message, size.columns))]
      : fleetScreen(rows, size, header)
  const screen = lines.map((l) => `\u001b[2K${l}`).join('\n')
  return `\u001b[H${screen}${lines.length < size.rows ? '\n\u001b[J' : ''}`
}

export function resetTable(rows: ResetRow[]): string {
  const body = rows.map((r) => [
    r.host,
    r.state === 'clean' ? chalk.green('clean') : chalk.red(r.state),
    r.removed === undefined ? '' : String(r.removed),
    r.state === 'dirty' ? `left: ${(r.left ?? []).join('; ')}` : (r.message ?? ''),
  ])
  return table(['HOST', 'STATE', 'REMOVED', 'NOTE'], body)
}
