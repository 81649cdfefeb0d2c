import chalk from 'chalk'
import type {RateRow} from '../metrics/rates.js'
import {table} from './render.js'

const SPARKS = '▁▂▃▄▅▆▇█'

export function sparkline(values: number[], width = 20): string {
  const v = values.slice(-width)
  const max = Math.max(...v, 0)
  if (max === 0) return SPARKS[0].repeat(v.length)
  return v.map((x) => SPARKS[Math.min(SPARKS.length - 1, Math.round((x / max) * (SPARKS.length - 1)))]).join('')
}

export function bar(value: number, max: number, width = 20): string {
  const n = max > 0 ? Math.round((value / max) * width) : 0
  return '█'.repeat(n) + chalk.dim('·'.repeat(width - n))
}

/** The live table of `ebpfcni metrics --watch`: one row per source, rate bar and sparkline. */
export function renderRates(
  rows: RateRow[],
  opts: {pin: string; url?: string; maxRows?: number; error?: string},
): string {
  const max = Math.max(...rows.map((r) => r.rate), 0)
  const shown = rows.slice(0, opts.maxRows ?? 20)
  const head = `${chalk.bold('ebpfcni metrics')}  map ${opts.pin}${opts.url ? `  serving ${opts.url}` : ''}  ${chalk.dim(new Date().toLocaleTimeString())}`
  if (opts.error) return `${head}\n${chalk.red(opts.error)}\n`
  if (!rows.length)
    return `${head}\n${chalk.dim('no packets counted yet: make pods and traffic (ebpfcni pod probe sleep httpbin)')}\n`
  const body = table(
    ['POD', 'SOURCE', 'PACKETS', 'PKT/S', 'RATE', 'LAST 20 s'],
    shown.map((r) => [
      r.pod || chalk.dim('-'),
      r.addr,
      r.total.toString(),
      r.rate.toFixed(1),
      bar(r.rate, max),
      sparkline(r.history),
    ]),
  )
  const more = rows.length > shown.length ? chalk.dim(`\n… and ${rows.length - shown.length} more sources`) : ''
  return `${head}\n${body}${more}\n`
}

/** Packet totals are u64s (bigint): JSON has no such number, so they are written as strings. */
const bigintAsString = (_key: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v)

/** One refresh of `metrics --watch`: an NDJSON line, or the table (redrawn in place on a terminal). */
export function ratesRefresh(
  rows: RateRow[],
  opts: {pin: string; url: string; error?: string; ndjson: boolean; tty: boolean},
): string {
  if (opts.ndjson)
    return `${JSON.stringify({time: new Date().toISOString(), url: opts.url, error: opts.error ?? null, pods: rows}, bigintAsString)}\n`
  const view = renderRates(rows, {pin: opts.pin, url: opts.url, error: opts.error})
  return opts.tty ? `\u001b[H\u001b[2J${view}` : `${view}\n`
}
