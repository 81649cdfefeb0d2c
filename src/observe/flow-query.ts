import {REASON_NAMES, type FlowFilter} from './flow-filter.js'
import {UserError} from '../host/errors.js'
import {DropReasons} from '../bpf/drop-reasons.js'

// The projector page's filters, from its URL: the names Hubble gives them (from-pod, to-pod, port,
// protocol, verdict, since) and observe's own (pod, reason). /?from-pod=sleep&verdict=dropped shows
// what `hubble observe --from-pod sleep --verdict DROPPED` would. An empty value is no filter (an
// empty input of the page's form); anything else that does not parse is refused, saying why.

export class FlowQueryError extends Error {}

export const QUERY_NAMES = ['from-pod', 'to-pod', 'pod', 'port', 'protocol', 'verdict', 'reason', 'since'] as const

const PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'IPv6', 'ARP']

/** "90s", "5m", "1h30m": milliseconds; undefined when it is not a duration. */
function durationMs(text: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text)
  if (!m || text === '') return undefined
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000
}

/** The filter a page URL's query asks for. `now` anchors a relative --since ("5m": the last 5 minutes). */
export function parseFlowQuery(query: URLSearchParams, now = Date.now()): FlowFilter {
  const filter: FlowFilter = {}
  for (const [name, raw] of query) {
    const value = raw.trim()
    if (value === '') continue
    switch (name) {
      case 'from-pod':
        filter.fromPod = value
        break
      case 'to-pod':
        filter.toPod = value
        break
      case 'pod':
        filter.pod = value
        break
      case 'port': {
        const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN
        if (!(port >= 1 && port <= 65_535)) throw new FlowQueryError(`port: "${value}" is not a port number (1-65535)`)
        filter.port = port
        break
      }
      case 'protocol': {
        const p = PROTOCOLS.find((x) => x.toLowerCase() === value.toLowerCase())
        if (!p) throw new FlowQueryError(`protocol: "${value}" is none of ${PROTOCOLS.join(', ')}`)
        filter.protocol = p
        break
      }
      case 'verdict': {
        const v = value.toLowerCase()
        if (v !== 'forwarded' && v !== 'dropped' && v !== 'translated')
          throw new FlowQueryError(`verdict: "${value}" is none of FORWARDED, DROPPED, TRANSLATED`)
        filter.verdict = v
        break
      }
      case 'reason':
        filter.reason = reasonName(value)
        break
      case 'since': {
        const ago = durationMs(value)
        const at = ago === undefined && /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : Number.NaN
        if (ago === undefined && Number.isNaN(at))
          throw new FlowQueryError(
            `since: "${value}" is neither a duration (30s, 5m, 1h30m) nor a date (2026-12-07T20:15:00Z)`,
          )
        filter.since = ago === undefined ? at : now - ago
        break
      }
      default:
        throw new FlowQueryError(`"${name}" is not a filter: use ${QUERY_NAMES.join(', ')}`)
    }
  }
  return filter
}

/** The filter in words, as the page shows it ("from-pod=sleep verdict=dropped"); "" for none. */
export function describeFlowQuery(query: URLSearchParams): string {
  return [...query]
    .filter(([, v]) => v.trim() !== '')
    .map(([k, v]) => `${k}=${v.trim()}`)
    .join(' ')
}

/** observe's --since, as the page's `since` takes it (ms since the epoch); what does not parse is a usage error saying why. */
export function sinceFlag(text: string, now = Date.now()): number {
  try {
    const since = parseFlowQuery(new URLSearchParams({since: text}), now).since
    if (since === undefined) throw new FlowQueryError(`since: "${text}" is empty`)
    return since
  } catch (err) {
    if (err instanceof FlowQueryError) throw new UserError(`--${err.message}`, {hint: 'e.g. --since 5m'})
    throw err
  }
}

let kernelReasons: DropReasons | undefined | null
/**
 * A reason to filter on: a program's (isolated, denied...), or the kernel's own drop reason by the
 * running kernel's name for it (NEIGH_FAILED, IP_RPFILTER: observe --kernel), in any case.
 */
export function reasonName(value: string): string {
  if (REASON_NAMES.includes(value)) return value
  const name = value.toUpperCase().replace(/^SKB_DROP_REASON_/, '')
  if (kernelReasons === undefined) {
    const k = DropReasons.ofKernel()
    kernelReasons = 'reasons' in k ? k.reasons : null
  }
  if (kernelReasons && kernelReasons.id(name) >= 0) return name
  throw new FlowQueryError(
    `reason: "${value}" is none of ${REASON_NAMES.join(', ')}` +
      (kernelReasons ? ", nor a drop reason of this kernel's (NEIGH_FAILED, IP_RPFILTER, …: observe --kernel)" : ''),
  )
}

/** observe's filter flags as a filter (--since and --reason parsed as above). */
export function observeFilter(flags: {pod?: string; verdict?: string; reason?: string; since?: string}): FlowFilter {
  return {
    pod: flags.pod,
    verdict: flags.verdict as FlowFilter['verdict'],
    ...(flags.reason === undefined ? {} : {reason: reasonFlag(flags.reason)}),
    ...(flags.since === undefined ? {} : {since: sinceFlag(flags.since)}),
  }
}

/** observe's --reason: what is neither a program's reason nor this kernel's is a usage error saying which are. */
function reasonFlag(text: string): string {
  try {
    return reasonName(text)
  } catch (err) {
    if (err instanceof FlowQueryError)
      throw new UserError(`--${err.message}`, {hint: 'e.g. --reason isolated, or --kernel --reason NEIGH_FAILED'})
    throw err
  }
}
