import chalk from 'chalk'
import type {ControllerEvent} from '../policy/controller.js'
import type {PolicyRefresh} from '../policy/kubernetes-policies.js'

// `policy watch` as it reads: one line per sync of the maps, the Kubernetes API's reads, and the
// line that says it is watching; with --json one object per line (NDJSON), each with its time.

const now = () => new Date().toISOString()

/** A sync: what it wrote and removed, or why it failed. */
export const controllerEventLine = (event: ControllerEvent, json: boolean): string =>
  json
    ? JSON.stringify({time: now(), ...event})
    : event.error
      ? `${chalk.red('✘')} ${event.reason}: ${event.error}`
      : `${chalk.green('✔')} ${event.reason}: ${event.written} written, ${event.removed} removed (${event.durationMs?.toFixed(1)} ms)`

/** A read of the API, in lines: what it put, what went, what cannot be enforced, or why it failed. */
export function apiRefreshText(refresh: PolicyRefresh | {error: string}, json: boolean): string {
  if (json) return JSON.stringify({time: now(), kubernetes: refresh})
  if ('error' in refresh) return `${chalk.red('✘')} Kubernetes API: ${refresh.error}`
  return [
    ...refresh.put.map((n) => `${chalk.green('✔')} NetworkPolicy ${n} from the API`),
    ...refresh.deleted.map((n) => `${chalk.green('✔')} NetworkPolicy ${n} gone from the API`),
    ...refresh.skipped.map((m) => `${chalk.yellow('!')} not enforced: ${m}`),
  ].join('\n')
}

/** Watching now, and whether file events arrive or the controller polls (and why). */
export const watchingLine = (polling: string | undefined, json: boolean): string =>
  json
    ? JSON.stringify({time: now(), watching: true, polling: polling ?? false})
    : `watching pods and policies${polling ? ` (polling: ${polling})` : ''}; Ctrl-C to stop`
