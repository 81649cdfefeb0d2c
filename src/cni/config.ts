import {readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {UserError} from '../host/errors.js'
import {isKnownVersion, SUPPORTED_VERSIONS} from './spec.js'

/** A network configuration: a .conflist, or a .conf treated as a one-plugin list. */
export interface NetworkConfig {
  name: string
  cniVersion: string
  plugins: Array<Record<string, unknown>>
  disableCheck: boolean
  disableGC: boolean
  /** The file it came from, or "inline". */
  source: string
  isConflist: boolean
  /** The original JSON, as a runtime would cache it. */
  raw: Record<string, unknown>
}

export function parseNetworkConfig(text: string, source: string): NetworkConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new UserError(`${source} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UserError(`${source} must hold a JSON object`)
  const r = raw as Record<string, unknown>
  const bad = (what: string): never => {
    throw new UserError(`${source}: ${what}`)
  }
  if (typeof r.name !== 'string' || !r.name) bad('"name" (the network name) is required')
  if (typeof r.cniVersion !== 'string') bad(`"cniVersion" is required (one of ${SUPPORTED_VERSIONS.join(', ')})`)
  if (!isKnownVersion(r.cniVersion))
    bad(`cniVersion "${r.cniVersion}" is not one this tool speaks (${SUPPORTED_VERSIONS.join(', ')})`)
  const isConflist = Array.isArray(r.plugins)
  const plugins = isConflist ? (r.plugins as Array<Record<string, unknown>>) : [r]
  if (plugins.length === 0) bad('"plugins" is empty')
  plugins.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.type !== 'string' || !p.type)
      bad(`${isConflist ? `plugins[${i}]` : 'the config'} needs a "type" (the plugin executable's name)`)
    if ((p.type as string).includes('/'))
      bad(`"type" must be a bare executable name found on CNI_PATH, saw "${p.type}"`)
  })
  return {
    name: r.name as string,
    cniVersion: r.cniVersion as string,
    plugins,
    disableCheck: r.disableCheck === true,
    disableGC: r.disableGC === true,
    source,
    isConflist,
    raw: r,
  }
}

export function loadNetworkConfig(file: string): NetworkConfig {
  if (!existsSync(file))
    throw new UserError(`network config ${file} not found`, {
      next: {do: 'install-config'},
    })
  return parseNetworkConfig(readFileSync(file, 'utf8'), file)
}

/** The plugin a config names (a conflist's first), for the "same as" lines; PLUGIN when it cannot be read. */
export function pluginType(configFile: string): string {
  try {
    const c = JSON.parse(readFileSync(configFile, 'utf8')) as {type?: string; plugins?: Array<{type?: string}>}
    return c.type ?? c.plugins?.[0]?.type ?? 'PLUGIN'
  } catch {
    return 'PLUGIN'
  }
}

/** Where a runtime finds the plugin: in the first CNI_PATH directory (colon-separated) that has it. */
export const pluginOnPath = (cniPath: string, type: string): string => {
  const dirs = cniPath.split(':').filter(Boolean)
  return join(dirs.find((d) => existsSync(join(d, type))) ?? dirs[0] ?? '.', type)
}

/**
 * The config one plugin of a list receives on stdin (SPEC §Section 4): its own object
 * plus the list's name and cniVersion, the previous result, and runtimeConfig for the
 * capabilities it declares.
 */
export function pluginStdin(
  net: NetworkConfig,
  plugin: Record<string, unknown>,
  opts: {prevResult?: unknown; capabilityArgs?: Record<string, unknown>; extra?: Record<string, unknown>} = {},
): Record<string, unknown> {
  const conf: Record<string, unknown> = {...plugin, name: net.name, cniVersion: net.cniVersion}
  delete conf.runtimeConfig
  const caps = plugin.capabilities as Record<string, boolean> | undefined
  if (caps && opts.capabilityArgs) {
    const rc: Record<string, unknown> = {}
    for (const [cap, on] of Object.entries(caps))
      if (on && cap in opts.capabilityArgs) rc[cap] = opts.capabilityArgs[cap]
    if (Object.keys(rc).length) conf.runtimeConfig = rc
  }
  if (opts.prevResult !== undefined) conf.prevResult = opts.prevResult
  return {...conf, ...opts.extra}
}
