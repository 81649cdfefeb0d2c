import {accessSync, constants, existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {run, type RunResult} from '../host/exec.js'
import {asErrorResult, formatError, parsePluginJson} from './result.js'
import type {CniCommand, CniErrorResult} from './spec.js'

export interface InvokeRequest {
  command: CniCommand
  /** Plugin executable name (the config's "type"). */
  type: string
  stdin: Record<string, unknown>
  /** Send these bytes instead of the JSON of `stdin` (to test how a plugin meets a broken config). */
  stdinRaw?: string
  containerId?: string
  netns?: string
  ifname?: string
  args?: string
  cniPath: string[]
  timeoutMs?: number
  maxOutputBytes?: number
  /**
   * Run the plugin "on" a node: in this network namespace, with only the network namespace
   * switched (nsenter --net). Never `ip netns exec`: it remounts /sys, which hides /sys/fs/bpf.
   */
  hostNetns?: string
}

export interface InvokeOutcome {
  request: InvokeRequest
  pluginPath?: string
  run?: RunResult
  /** Parsed stdout when it was valid JSON. */
  json?: unknown
  /** The plugin's error result, when it returned one. */
  error?: CniErrorResult
  /** Succeeded: exit 0 with valid JSON (or no output where the spec allows none). */
  ok: boolean
  /** One line saying what went wrong, naming what was seen. */
  problem?: string
  /** A success that did something the spec allows and a runtime ignores (a DEL's stdout). */
  note?: string
}

export function findPlugin(type: string, cniPath: string[]): string | undefined {
  for (const dir of cniPath) {
    const p = join(dir, type)
    try {
      if (existsSync(p) && statSync(p).isFile()) {
        accessSync(p, constants.X_OK)
        return p
      }
    } catch {
      // present but not executable: keep looking, report below
    }
  }
  return undefined
}

function notExecutableReason(type: string, cniPath: string[]): string {
  for (const dir of cniPath) {
    const p = join(dir, type)
    if (existsSync(p)) {
      const st = statSync(p)
      if (!st.isFile()) return `${p} is not a regular file`
      return `${p} exists but is not executable (chmod +x ${p})`
    }
  }
  return `no executable "${type}" on CNI_PATH (${cniPath.join(':')})`
}

/** Commands whose success prints no result (SPEC: DEL, CHECK, GC, STATUS); GC's says no output at all. */
const SILENT_OK: CniCommand[] = ['DEL', 'CHECK', 'GC', 'STATUS']

/**
 * Call one plugin exactly as SPEC §Parameters says: the CNI_* environment, the config
 * on stdin, the result (or an error) on stdout. Bounded in time and output.
 */
export async function invokePlugin(req: InvokeRequest): Promise<InvokeOutcome> {
  const pluginPath = findPlugin(req.type, req.cniPath)
  if (!pluginPath) return {request: req, ok: false, problem: notExecutableReason(req.type, req.cniPath)}
  const env: Record<string, string> = {
    CNI_COMMAND: req.command,
    CNI_PATH: req.cniPath.join(':'),
    // Plugins written in bash need a PATH to find jq and ip.
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  }
  // A plugin that calls ebpfcni itself (lab 5 step 5: bpf attach --tcx) records in this run's ledger.
  if (process.env.EBPFCNI_STATE_DIR) env.EBPFCNI_STATE_DIR = process.env.EBPFCNI_STATE_DIR
  if (req.containerId !== undefined) env.CNI_CONTAINERID = req.containerId
  if (req.netns !== undefined) env.CNI_NETNS = req.netns
  if (req.ifname !== undefined) env.CNI_IFNAME = req.ifname
  if (req.args !== undefined) env.CNI_ARGS = req.args
  const [cmd, args] = req.hostNetns ? ['nsenter', [`--net=${req.hostNetns}`, pluginPath]] : [pluginPath, []]
  const r = await run(cmd, args, {
    input: req.stdinRaw ?? JSON.stringify(req.stdin),
    env,
    cleanEnv: true,
    timeoutMs: req.timeoutMs ?? 10_000,
    maxOutputBytes: req.maxOutputBytes ?? 1024 * 1024,
  })
  return interpret(req, pluginPath, r)
}

/** What the plugin said on stderr (its last lines, capped): often the real cause, as `ip`'s "File exists". */
const stderrTail = (r: RunResult): string => {
  const t = r.stderr.trim().split('\n').slice(-3).join(' | ')
  return t ? `; stderr: ${t.slice(0, 300)}` : ''
}

export function interpret(req: InvokeRequest, pluginPath: string, result: RunResult): InvokeOutcome {
  const base = {request: req, pluginPath, run: result}
  const who = `${req.command} of plugin "${req.type}"`
  if (result.startError) {
    const shebang = readShebang(pluginPath)
    return {
      ...base,
      ok: false,
      problem: `${who} could not start: ${result.startError}${shebang ? ` (its first line is ${JSON.stringify(shebang)})` : ''}`,
    }
  }
  if (result.timedOut)
    return {
      ...base,
      ok: false,
      problem: `${who} did not finish within ${Math.round((req.timeoutMs ?? 10_000) / 1000)} s and was killed (a hang: a read from stdin twice, a lock never released, a sleep?)${stderrTail(result)}`,
    }
  if (result.outputCapped)
    return {
      ...base,
      ok: false,
      problem: `${who} printed more than ${(req.maxOutputBytes ?? 1048576) / 1024} KiB and was killed`,
    }
  if (result.signal) return {...base, ok: false, problem: `${who} was killed by ${result.signal}${stderrTail(result)}`}
  const parsed = parsePluginJson(result.stdout)
  if (result.exitCode !== 0) {
    const error = parsed.value !== undefined ? asErrorResult(parsed.value) : undefined
    if (error)
      return {
        ...base,
        json: parsed.value,
        error,
        ok: false,
        problem: `${who} failed with ${formatError(error)}${stderrTail(result)}`,
      }
    const what =
      parsed.value !== undefined
        ? 'JSON that is not an error result (needs "code" and "msg")'
        : result.stdout.trim()
          ? `no error JSON (${parsed.problem})`
          : 'no error JSON on stdout'
    return {
      ...base,
      json: parsed.value,
      ok: false,
      problem: `${who} exited ${result.exitCode} with ${what}; SPEC §Error expects {"cniVersion","code","msg","details"} on stdout${stderrTail(result)}`,
    }
  }
  if (SILENT_OK.includes(req.command) && !result.stdout.trim()) return {...base, ok: true}
  // Walked: a debug echo in DEL. SPEC §DEL names no output (only GC says "No output on success"), and
  // libcni (pkg/invoke ExecPluginWithoutResult) discards DEL's stdout: a success, with a note.
  if (req.command === 'DEL' && parsed.problem)
    return {
      ...base,
      ok: true,
      note: `${who} printed ${JSON.stringify(result.stdout.trim().split('\n')[0].slice(0, 80))} on stdout: allowed (SPEC §DEL names no output), and no runtime sees it (libcni discards DEL's stdout); log lines belong on stderr`,
    }
  // Said as what it is, without the JSON parser's words.
  if (SILENT_OK.includes(req.command) && parsed.problem)
    return {
      ...base,
      ok: false,
      problem: `${who} exited 0 but printed ${JSON.stringify(result.stdout.trim().split('\n')[0].slice(0, 80))} on stdout, where a successful ${req.command} prints nothing${stderrTail(result)}`,
    }
  if (parsed.problem) return {...base, ok: false, problem: `${who} exited 0 but ${parsed.problem}${stderrTail(result)}`}
  const error = asErrorResult(parsed.value)
  if (error && req.command !== 'STATUS')
    return {
      ...base,
      json: parsed.value,
      error,
      ok: false,
      problem: `${who} printed an error result (${formatError(error)}) yet exited 0: an error must exit non-zero`,
    }
  return {...base, json: parsed.value, ok: true}
}

function readShebang(path: string): string | undefined {
  try {
    const first = readFileSync(path, {encoding: 'latin1'}).slice(0, 200).split('\n')[0]
    return first.startsWith('#!') ? first : undefined
  } catch {
    return undefined
  }
}
