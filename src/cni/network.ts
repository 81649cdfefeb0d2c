import {invokePlugin, type InvokeOutcome} from './invoke.js'
import {pluginStdin, type NetworkConfig} from './config.js'
import {validateResult} from './result.js'
import {compareVersions, versionHas, type CniCommand, type CniResult} from './spec.js'

// Running a whole network (a conflist) the way libcni does: ADD in order with
// prevResult chaining, DEL in reverse with the cached result, CHECK, GC, STATUS.

export interface Attachment {
  containerId: string
  /** Path of the netns (CNI_NETNS); may be empty on DEL when the netns is gone. */
  netns: string
  ifname: string
  args?: string
  capabilityArgs?: Record<string, unknown>
}

export interface CniOptions {
  cniPath: string[]
  timeoutMs?: number
  /** Call VERSION first and require the config's version among supportedVersions (as podman does). */
  negotiate?: boolean
  /** The node's network namespace the plugin runs in (lab 5's simulated nodes); the host's when unset. */
  hostNetns?: string
}

export interface NetworkOutcome {
  ok: boolean
  command: CniCommand
  result?: CniResult
  /** Every plugin call made, in order. */
  calls: InvokeOutcome[]
  /** What went wrong, naming the plugin and the step. */
  problem?: string
  /** Result-schema problems, when the plugin answered but its result is wrong. */
  resultProblems?: string[]
}

export interface VersionInfo {
  ok: boolean
  supportedVersions?: string[]
  cniVersion?: string
  problem?: string
  call: InvokeOutcome
}

export async function pluginVersion(type: string, configVersion: string, opts: CniOptions): Promise<VersionInfo> {
  const call = await invokePlugin({
    command: 'VERSION',
    type,
    stdin: {cniVersion: configVersion},
    cniPath: opts.cniPath,
    timeoutMs: opts.timeoutMs,
  })
  if (!call.ok) return {ok: false, call, problem: call.problem}
  const v = call.json as {cniVersion?: unknown; supportedVersions?: unknown}
  if (!v || !Array.isArray(v.supportedVersions) || !v.supportedVersions.every((x) => typeof x === 'string')) {
    return {
      ok: false,
      call,
      problem: `VERSION of plugin "${type}" must print {"cniVersion": "...", "supportedVersions": ["0.3.1", "1.0.0", ...]}, saw ${JSON.stringify(call.json)?.slice(0, 120)}`,
    }
  }
  const supported = v.supportedVersions as string[]
  if (!supported.includes(configVersion)) {
    return {
      ok: false,
      call,
      supportedVersions: supported,
      problem: `plugin "${type}" supports ${supported.join(', ')} but the config declares cniVersion "${configVersion}" (SPEC §VERSION)`,
    }
  }
  return {
    ok: true,
    call,
    supportedVersions: supported,
    cniVersion: typeof v.cniVersion === 'string' ? v.cniVersion : undefined,
  }
}

const base = (att: Attachment, opts: CniOptions) => ({
  containerId: att.containerId,
  netns: att.netns,
  ifname: att.ifname,
  args: att.args ?? '',
  cniPath: opts.cniPath,
  timeoutMs: opts.timeoutMs,
  hostNetns: opts.hostNetns,
})

export async function addNetworkList(net: NetworkConfig, att: Attachment, opts: CniOptions): Promise<NetworkOutcome> {
  const calls: InvokeOutcome[] = []
  if (opts.negotiate !== false) {
    for (const p of net.plugins) {
      const v = await pluginVersion(p.type as string, net.cniVersion, opts)
      calls.push(v.call)
      if (!v.ok) return {ok: false, command: 'ADD', calls, problem: v.problem}
    }
  }
  let prevResult: unknown
  for (const p of net.plugins) {
    const stdin = pluginStdin(net, p, {prevResult, capabilityArgs: att.capabilityArgs})
    const call = await invokePlugin({command: 'ADD', type: p.type as string, stdin, ...base(att, opts)})
    calls.push(call)
    if (!call.ok) return {ok: false, command: 'ADD', calls, problem: call.problem}
    const problems = validateResult(call.json, net.cniVersion)
    if (problems.length) {
      return {
        ok: false,
        command: 'ADD',
        calls,
        resultProblems: problems,
        problem: `ADD of plugin "${p.type}" returned a result that breaks SPEC §Success: ${problems.join('; ')}`,
      }
    }
    prevResult = call.json
  }
  return {ok: true, command: 'ADD', calls, result: prevResult as CniResult}
}

/** DEL in reverse order; every plugin is called even if one fails (as libcni), the first problem reported. */
export async function delNetworkList(
  net: NetworkConfig,
  att: Attachment,
  opts: CniOptions,
  cachedResult?: unknown,
): Promise<NetworkOutcome> {
  const calls: InvokeOutcome[] = []
  let problem: string | undefined
  const withPrev = cachedResult !== undefined && compareVersions(net.cniVersion, '0.4.0') >= 0
  for (const p of [...net.plugins].reverse()) {
    const stdin = pluginStdin(net, p, {
      prevResult: withPrev ? cachedResult : undefined,
      capabilityArgs: att.capabilityArgs,
    })
    const call = await invokePlugin({command: 'DEL', type: p.type as string, stdin, ...base(att, opts)})
    calls.push(call)
    if (!call.ok && !problem) problem = call.problem
  }
  return {ok: !problem, command: 'DEL', calls, problem}
}

export async function checkNetworkList(
  net: NetworkConfig,
  att: Attachment,
  opts: CniOptions,
  cachedResult: unknown,
): Promise<NetworkOutcome> {
  if (!versionHas(net.cniVersion, 'CHECK'))
    return {
      ok: false,
      command: 'CHECK',
      calls: [],
      problem: `CHECK needs cniVersion 0.4.0 or later; the config declares ${net.cniVersion}`,
    }
  if (net.disableCheck) return {ok: true, command: 'CHECK', calls: []}
  const calls: InvokeOutcome[] = []
  for (const p of net.plugins) {
    const stdin = pluginStdin(net, p, {prevResult: cachedResult, capabilityArgs: att.capabilityArgs})
    const call = await invokePlugin({command: 'CHECK', type: p.type as string, stdin, ...base(att, opts)})
    calls.push(call)
    if (!call.ok) return {ok: false, command: 'CHECK', calls, problem: call.problem}
  }
  return {ok: true, command: 'CHECK', calls}
}
