import {run, describeRun} from '../host/exec.js'
import {EnvironmentError} from '../host/errors.js'

// Reading the Prometheus text format back (for checks and tests), and Debian's promtool.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (!m) continue
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    out.push({name: m[1], labels, value: Number(m[3])})
  }
  return out
}

/** promtool check metrics on the text: undefined when accepted, else what it said. */
export async function promtoolCheck(text: string): Promise<string | undefined> {
  const r = await run('promtool', ['check', 'metrics'], {input: text, timeoutMs: 10_000})
  if (r.startError)
    throw new EnvironmentError('promtool is not installed (Debian package prometheus)', 'run: bash scripts/setup.sh')
  if (r.exitCode === 0 && !r.timedOut) return undefined
  return (r.stdout + r.stderr).trim().split('\n').slice(0, 5).join('; ') || describeRun(r)
}
