import {existsSync, readFileSync} from 'node:fs'
import {run} from '../host/exec.js'
import type {CheckResult} from '../checks/engine.js'

/**
 * `bash -n` on a shell plugin before any check runs it: a syntax error otherwise surfaces under
 * whichever check happens to run first, with that check's unrelated hint. A failed result, or
 * undefined when the plugin parses (or is no shell script, or is missing: plugin.present says so).
 */
export async function pluginParses(path: string): Promise<CheckResult | undefined> {
  if (!existsSync(path)) return undefined
  const first = readFileSync(path, 'latin1').slice(0, 200).split('\n')[0]
  if (!/^#!.*\b(bash|sh)\b/.test(first)) return undefined
  const r = await run('bash', ['-n', path], {timeoutMs: 5000, maxOutputBytes: 64 * 1024})
  if (r.exitCode === 0) return undefined
  const errors = r.stderr
    .trim()
    .split('\n')
    .filter(Boolean)
    .slice(0, 3)
    .map((l) => l.replace(`${path}: `, ''))
  return {
    id: 'plugin.parses',
    title: 'your plugin is a shell script bash can parse',
    status: 'fail',
    message: `bash -n ${path} reports: ${errors.join(' | ') || `exit ${r.exitCode}`}`,
    hint: 'Fix the syntax error first (an unclosed quote, if without fi, case without esac); no other check can run your plugin until then. Run `bash -n` on the file yourself to see it.',
    durationMs: Math.round(r.durationMs),
  }
}
