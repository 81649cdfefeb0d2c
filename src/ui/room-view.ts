import chalk from 'chalk'
import {table} from './render.js'
import {stepCounts, type AttendeeRow} from '../room/attendee.js'
import type {ResetRow} from '../room/fleet.js'

// The instructor's tables: one row per attendee VM, stuck ones first, and a line per step.

const minutes = (m: number | undefined): string => (m === undefined ? '' : `${Math.floor(m)} min`)

const order = (r: AttendeeRow): number =>
  r.stuck ? 0 : r.state === 'ok' ? 1 : r.state === 'idle' ? 2 : r.state === 'bad-line' ? 4 : 3

export function roomTable(rows: AttendeeRow[]): string {
  const sorted = [...rows].sort((a, b) => order(a) - order(b) || a.host.localeCompare(b.host, 'en', {numeric: true}))
  const body = sorted.map((r) => {
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

export function roomSummary(rows: AttendeeRow[]): string {
  const parts = stepCounts(rows).map(
    (c) => `${c.where}: ${c.count}${c.stuck ? chalk.yellow(` (${c.stuck} stuck)`) : ''}`,
  )
  const hosts = rows.filter((r) => r.state !== 'bad-line').length
  return `${hosts} attendee VM(s) · ${parts.join(' · ')}`
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
