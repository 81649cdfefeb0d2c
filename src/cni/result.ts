import {isIPv4, isIPv6} from 'node:net'
import {compareVersions, describeCode, type CniErrorResult, type CniResult} from './spec.js'

// Validation of what a plugin prints, against the declared version's result schema.

const MAC = /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i

export function isCidr(s: unknown): boolean {
  if (typeof s !== 'string') return false
  const [ip, len, extra] = s.split('/')
  if (extra !== undefined || len === undefined || !/^\d+$/.test(len)) return false
  const n = Number(len)
  return (isIPv4(ip) && n <= 32) || (isIPv6(ip) && n <= 128)
}
const isIp = (s: unknown): boolean => typeof s === 'string' && (isIPv4(s) || isIPv6(s))

/**
 * What an object held at key, for a message: "saw <its JSON>", or, when the key is absent, that it
 * is and which keys the object has (a misspelt key is then plain; never the JS word "undefined").
 */
function saw(obj: Record<string, unknown>, key: string, where: string): string {
  if (key in obj && obj[key] !== undefined) return `saw ${JSON.stringify(obj[key])}`
  const keys = Object.keys(obj)
  return `${where} has no "${key}" (${keys.length ? `it has: ${keys.join(', ')}` : 'it is empty'})`
}

/** Problems with a success result, each saying what was seen and what the spec expects. Empty = valid. */
export function validateResult(raw: unknown, expectedVersion: string): string[] {
  const p: string[] = []
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return [`the result must be a JSON object, saw ${JSON.stringify(raw)?.slice(0, 80)}`]
  const r = raw as Record<string, unknown>
  if (r.cniVersion !== expectedVersion) {
    p.push(
      `result cniVersion is ${r.cniVersion === undefined ? 'missing' : JSON.stringify(r.cniVersion)} but the config declares "${expectedVersion}": a plugin must answer in the config's version`,
    )
  }
  const version = typeof r.cniVersion === 'string' ? r.cniVersion : expectedVersion
  const interfaces = r.interfaces
  if (interfaces !== undefined && !Array.isArray(interfaces))
    p.push(`"interfaces" must be an array, saw ${typeof interfaces}`)
  const ifaces = Array.isArray(interfaces) ? (interfaces as Array<Record<string, unknown>>) : []
  ifaces.forEach((i, n) => {
    if (typeof i !== 'object' || i === null) return void p.push(`interfaces[${n}] must be an object`)
    if (typeof i.name !== 'string' || !i.name)
      p.push(`interfaces[${n}].name is required (a string); ${saw(i, 'name', `interfaces[${n}]`)}`)
    if (i.mac !== undefined && (typeof i.mac !== 'string' || !MAC.test(i.mac)))
      p.push(`interfaces[${n}].mac must be a MAC like 0a:58:0a:0a:00:05, saw ${JSON.stringify(i.mac)}`)
    if (i.sandbox !== undefined && typeof i.sandbox !== 'string')
      p.push(`interfaces[${n}].sandbox must be a string (the netns path), saw ${JSON.stringify(i.sandbox)}`)
    if (i.mtu !== undefined && (typeof i.mtu !== 'number' || i.mtu <= 0))
      p.push(`interfaces[${n}].mtu must be a positive number`)
  })
  if (r.ips !== undefined && !Array.isArray(r.ips)) p.push(`"ips" must be an array, saw ${typeof r.ips}`)
  const ips = Array.isArray(r.ips) ? (r.ips as Array<Record<string, unknown>>) : []
  ips.forEach((ip, n) => {
    if (typeof ip !== 'object' || ip === null) return void p.push(`ips[${n}] must be an object`)
    if (!isCidr(ip.address))
      p.push(`ips[${n}].address must be an address in CIDR form like 10.10.0.5/24; ${saw(ip, 'address', `ips[${n}]`)}`)
    if (ip.gateway !== undefined && !isIp(ip.gateway))
      p.push(`ips[${n}].gateway must be a bare IP address, saw ${JSON.stringify(ip.gateway)}`)
    if (ip.interface !== undefined) {
      if (!Number.isInteger(ip.interface) || (ip.interface as number) < 0)
        p.push(
          `ips[${n}].interface must be a non-negative integer index into "interfaces", saw ${JSON.stringify(ip.interface)}`,
        )
      else if ((ip.interface as number) >= ifaces.length)
        p.push(
          `ips[${n}].interface is ${ip.interface} but "interfaces" has ${ifaces.length} entr${ifaces.length === 1 ? 'y' : 'ies'}: the index points past the list`,
        )
    }
    if (compareVersions(version, '1.0.0') < 0) {
      if (ip.version !== '4' && ip.version !== '6')
        p.push(
          `ips[${n}].version is required ("4" or "6") in cniVersion ${version}; ${saw(ip, 'version', `ips[${n}]`)}`,
        )
    }
  })
  if (r.routes !== undefined && !Array.isArray(r.routes)) p.push(`"routes" must be an array, saw ${typeof r.routes}`)
  const routes = Array.isArray(r.routes) ? (r.routes as Array<Record<string, unknown>>) : []
  routes.forEach((rt, n) => {
    if (typeof rt !== 'object' || rt === null) return void p.push(`routes[${n}] must be an object`)
    if (!isCidr(rt.dst)) p.push(`routes[${n}].dst must be a CIDR like 0.0.0.0/0; ${saw(rt, 'dst', `routes[${n}]`)}`)
    if (rt.gw !== undefined && !isIp(rt.gw))
      p.push(`routes[${n}].gw must be a bare IP address, saw ${JSON.stringify(rt.gw)}`)
  })
  if (r.dns !== undefined && (typeof r.dns !== 'object' || r.dns === null)) p.push('"dns" must be an object')
  return p
}

/** An error result per SPEC §Error, or undefined when the JSON is not one. */
export function asErrorResult(raw: unknown): CniErrorResult | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined
  const r = raw as Record<string, unknown>
  if (typeof r.code !== 'number') return undefined
  return {
    cniVersion: typeof r.cniVersion === 'string' ? r.cniVersion : undefined,
    code: r.code,
    msg: String(r.msg ?? ''),
    details: typeof r.details === 'string' ? r.details : undefined,
  }
}

export const formatError = (error: CniErrorResult): string =>
  `error code ${describeCode(error.code)}: ${error.msg}${error.details ? ` — ${error.details}` : ''}`

/**
 * Parse a plugin's stdout as exactly one JSON document. Junk before or after the
 * JSON is an error a runtime would also reject, so it is reported, not skipped.
 */
export function parsePluginJson(stdout: string): {value?: unknown; problem?: string} {
  const text = stdout.trim()
  if (!text) return {problem: 'stdout was empty'}
  try {
    return {value: JSON.parse(text)}
  } catch (err) {
    const start = text.search(/[{[]/)
    if (start > 0) {
      try {
        JSON.parse(text.slice(start))
        return {
          problem: `stdout has text before the JSON: ${JSON.stringify(text.slice(0, Math.min(start, 60)))} (send logs to stderr, e.g. >&2)`,
        }
      } catch {
        // not JSON after the junk either
      }
    }
    return {
      problem: `stdout is not valid JSON (${(err as Error).message}); it began ${JSON.stringify(text.slice(0, 80))}`,
    }
  }
}

/** The pod's IPv4 address (no prefix) from a CNI result. */
export function podIp(result: CniResult | undefined): string | undefined {
  return result?.ips?.find((i) => typeof i.address === 'string' && !i.address.includes(':'))?.address.split('/')[0]
}
