import chalk from 'chalk'
import {errorMessage, UserError} from '../host/errors.js'
import {hintLine} from './next-steps.js'

export type Status = 'pass' | 'fail' | 'skip' | 'warn'

export const mark = (s: Status): string =>
  ({pass: chalk.green('✔'), fail: chalk.red('✘'), skip: chalk.dim('–'), warn: chalk.yellow('!')})[s]

/** A plain aligned table; columns sized to their widest cell (ANSI codes ignored). */
export function table(headers: string[], rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const width = (s: string): number => s.replace(/\u001b\[[0-9;]*m/g, '').length
  const widths = headers.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c + ' '.repeat(widths[i] - width(c)))
      .join('  ')
      .trimEnd()
  return [chalk.bold(line(headers)), ...rows.map(line)].join('\n')
}

export const json = (v: unknown): string => JSON.stringify(v, null, 2)

/** An error as the interactive loops (menu, watch mode) show it and go on: the message, then its hint. */
export function errorText(err: unknown): string {
  const hint = err instanceof UserError ? hintLine(err) : undefined
  return chalk.red(`error: ${errorMessage(err)}`) + (hint ? `\n${chalk.yellow('hint:')} ${hint}` : '')
}

/**
 * Text wrapped at word boundaries to the terminal's width (a terminal breaks mid-word), each line
 * after the first indented. A word longer than the line stays whole.
 */
export function wrapWords(text: string, width = process.stdout.columns || 100, indent = '  '): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const room = width - (lines.length ? indent.length : 0)
    if (line && line.length + 1 + word.length > room) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(line)
  return lines.map((l, i) => (i ? indent + l : l)).join('\n')
}
