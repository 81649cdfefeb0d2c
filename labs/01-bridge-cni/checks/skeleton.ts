import {accessSync, constants, existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {isIPv4} from 'node:net'
import {asErrorResult, isCidr} from '#cni/result.js'
import {SUPPORTED_VERSIONS} from '#cni/spec.js'
import {fail, type CheckDefinition} from '#checks/engine.js'
import {type Lab1Context} from '../context.js'
import {errorCaseProblems} from '#checks/cni-assertions.js'
import {DEL_WITHOUT_NETNS_HINT, delWithoutNetnsProblem, refusedCall} from './shared.js'

const ERROR_CODES_HINT =
  'Refuse with the starter\'s error CODE MSG [DETAILS]: it prints {"cniVersion","code","msg","details"} on stdout and exits 1. Codes: 1 bad version, 4 bad CNI_* variable, 6 undecodable config, 7 invalid config.'

/** The hint for what the refusals showed: the first cause a learner can act on. */
function refusalHint(seen: string): string {
  if (/stdout has text before the JSON/.test(seen))
    return 'something your plugin prints goes to stdout before the error JSON: send every log and echo to stderr (>&2); stdout carries the JSON alone'
  if (/exited 0/.test(seen))
    return 'after printing the error JSON, exit non-zero: error() ends with exit 1, never return'
  const unnamed = /should name (CNI_\w+)/.exec(seen)?.[1]
  if (unnamed) return `say which variable is missing in the error's msg: error 4 "${unnamed} is not set"`
  if (/DEL with CNI_NETNS empty/.test(seen)) return DEL_WITHOUT_NETNS_HINT
  // Walked: the starter's `set -u` stops the plugin at the first unset variable it reads, before any error.
  if (/unbound variable/.test(seen))
    return 'bash stopped your plugin at an unset variable ("unbound variable", the starter\'s set -u) before it printed an error: test each CNI_* variable the command needs first, reading it as ${VAR:-}: for var in CNI_CONTAINERID CNI_IFNAME; do [ -n "${!var:-}" ] || error 4 "$var is not set"; done'
  return ERROR_CODES_HINT
}

/**
 * Walked: VERSION's answer printed, no `exit 0` after it, and the script went on to an error JSON.
 * Stdout is then two JSON documents, the first a VERSION answer: the problem line naming the second
 * (its code and msg), or undefined when stdout is not that.
 */
function versionThenMore(stdout: string): string | undefined {
  const text = stdout.trim()
  const cut = text.indexOf('\n')
  if (cut < 0) return undefined
  let first: unknown
  let rest: unknown
  try {
    first = JSON.parse(text.slice(0, cut))
    rest = JSON.parse(text.slice(cut + 1))
  } catch {
    return undefined
  }
  if (!Array.isArray((first as {supportedVersions?: unknown})?.supportedVersions)) return undefined
  const error = asErrorResult(rest)
  const then = error
    ? `printed error ${error.code} ${JSON.stringify(error.msg)}`
    : `printed ${JSON.stringify(text.slice(cut + 1, cut + 61))}`
  return `VERSION answered (${text.slice(0, cut).slice(0, 100)}), then the script went on and ${then}: the runtime reads both as one answer and rejects it`
}

/** Step skeleton's checks (lab.yaml orders the run). */
export const SKELETON_CHECKS: Array<CheckDefinition<Lab1Context>> = [
  {
    id: 'plugin.present',
    cost: 'cheap',
    title: 'the plugin is installed and executable, with a shebang',
    hint: 'Your plugin is ~/ebpfcni-lab/ebpfcni: start it with #!/usr/bin/env bash and chmod +x it; `ebpfcni check 1` installs it to /opt/cni/bin/ebpfcni.',
    run: async (ctx) => {
      const p = join(ctx.plugin.opts.cniBinDir, 'ebpfcni')
      if (!existsSync(p)) fail(`${p} does not exist`)
      if (!statSync(p).isFile()) fail(`${p} is not a regular file`)
      try {
        accessSync(p, constants.X_OK)
      } catch {
        fail(`${p} is not executable`, `chmod +x ${p}`)
      }
      const first = readFileSync(p, 'latin1').split('\n')[0]
      if (!first.startsWith('#!'))
        fail(
          `${p} starts with ${JSON.stringify(first.slice(0, 40))}, not a shebang line: the kernel cannot run it`,
          'make the first line #!/usr/bin/env bash',
        )
      return `${p} is executable (${first})`
    },
  },
  {
    id: 'config.valid',
    cost: 'cheap',
    title: 'the network config is valid',
    hint: 'The config needs cniVersion, name, "type": "ebpfcni" (the executable CNI_PATH holds) and a podcidr like 10.10.0.0/24.',
    run: async (ctx) => {
      const file = ctx.plugin.opts.configFile
      if (!existsSync(file)) fail(`${file} does not exist`)
      let raw: Record<string, unknown>
      try {
        raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>
      } catch (err) {
        return fail(`${file} is not valid JSON: ${(err as Error).message}`)
      }
      const problems: string[] = []
      if (!(SUPPORTED_VERSIONS as readonly string[]).includes(String(raw.cniVersion)))
        problems.push(`cniVersion ${JSON.stringify(raw.cniVersion)} is not one of ${SUPPORTED_VERSIONS.join(', ')}`)
      if (typeof raw.name !== 'string' || !raw.name) problems.push('"name" is missing')
      if (raw.type !== 'ebpfcni')
        problems.push(
          `"type" is ${JSON.stringify(raw.type)}; the runtime looks for an executable of that name, and yours is "ebpfcni"`,
        )
      if (
        !isCidr(raw.podcidr) ||
        !isIPv4(String(raw.podcidr).split('/')[0]) ||
        Number(String(raw.podcidr).split('/')[1]) > 30
      )
        problems.push(
          `"podcidr" is ${JSON.stringify(raw.podcidr)}; expected an IPv4 CIDR of /30 or larger, like "10.10.0.0/24"`,
        )
      if (raw.bridge !== undefined && (typeof raw.bridge !== 'string' || raw.bridge.length > 15))
        problems.push('"bridge" must be an interface name of at most 15 characters')
      if (problems.length) fail(problems.join('; '), refusalHint(problems.join(' ')))
      return `${raw.name}: cniVersion ${raw.cniVersion}, podcidr ${raw.podcidr}, bridge ${raw.bridge ?? 'bridge0 (default)'}`
    },
  },
  {
    id: 'cni.version',
    cost: 'cheap',
    title: "VERSION answers in the cniVersion it was given and lists the versions it speaks, the config's included",
    hint: 'On CNI_COMMAND=VERSION print {"cniVersion": <the cniVersion on stdin>, "supportedVersions": ["0.3.0","0.3.1","0.4.0","1.0.0"] ($SUPPORTED)} and exit 0: jq -cn --arg v "$cni_version" --argjson s "$SUPPORTED" \'{cniVersion: $v, supportedVersions: $s}\'',
    run: async (ctx) => {
      const net = ctx.plugin.learnerNet()
      const version = async (v: string) => {
        const call = await ctx.pods.invoke(
          {command: 'VERSION', type: 'ebpfcni', stdin: {cniVersion: v}},
          `VERSION (${v})`,
        )
        if (!call.ok) {
          const more = versionThenMore(call.run?.stdout ?? '')
          if (more) fail(more, "exit 0 after printing VERSION's answer, so nothing after it runs")
          fail(
            call.problem ?? 'VERSION failed',
            // Junk on stdout is the cause then, not VERSION's JSON.
            /\bstdout (has text before the JSON|is not valid JSON)/.test(call.problem ?? '')
              ? 'The runtime reads your stdout as the answer, so only the JSON may go there: send every log line to stderr (echo … >&2).'
              : undefined,
          )
        }
        return call.json as {cniVersion?: unknown; supportedVersions?: unknown}
      }
      const v = await version(net.cniVersion)
      if (!Array.isArray(v?.supportedVersions))
        fail(`VERSION printed ${JSON.stringify(v)?.slice(0, 100)}; expected an object with "supportedVersions": [...]`)
      const s = v.supportedVersions as string[]
      if (!s.includes(net.cniVersion))
        fail(`supportedVersions is ${JSON.stringify(s)} but the config declares "${net.cniVersion}"`)
      // The spec: VERSION's result carries the cniVersion of its input. Ask in another version it speaks.
      const other = s.find((x) => x !== net.cniVersion) ?? net.cniVersion
      const w = await version(other)
      if (w?.cniVersion !== other)
        fail(
          `VERSION asked with cniVersion "${other}" (which it lists) answered with cniVersion ${JSON.stringify(w?.cniVersion)}: the spec has VERSION answer in the cniVersion it was given`,
          'print the cniVersion read from stdin ($cni_version), not a fixed one',
        )
      return `supportedVersions ${JSON.stringify(s)}; asked in ${other}, answered in ${other}`
    },
  },
  {
    id: 'cni.errors',
    cost: 'cheap',
    title:
      "failures print the spec's error JSON with the right code and exit non-zero; DEL without CNI_NETNS is no failure",
    hint: ERROR_CODES_HINT,
    run: async (ctx) => {
      const net = ctx.plugin.learnerNet()
      const withoutPodcidr = {...net.raw}
      delete withoutPodcidr.podcidr
      const problems = await errorCaseProblems(ctx.pods, [
        refusedCall(
          ctx,
          'ADD without CNI_CONTAINERID',
          {env: {containerId: undefined}},
          {code: 4, mention: 'CNI_CONTAINERID'},
        ),
        refusedCall(ctx, 'ADD without CNI_IFNAME', {env: {ifname: undefined}}, {code: 4, mention: 'CNI_IFNAME'}),
        // Walked: "a CNI variable is missing" passed for CNI_NETNS; the text says to name it.
        refusedCall(ctx, 'ADD without CNI_NETNS', {env: {netns: undefined}}, {code: 4, mention: 'CNI_NETNS'}),
        refusedCall(ctx, 'ADD with an unparsable config', {stdinRaw: '{"cniVersion": "1.0.0", "name": '}, {code: 6}),
        refusedCall(ctx, 'ADD with a config without podcidr', {stdin: withoutPodcidr}, {code: 7}),
        refusedCall(ctx, 'ADD with cniVersion "0.1.0"', {stdin: {...net.raw, cniVersion: '0.1.0'}}, {code: 1}),
        refusedCall(ctx, 'CNI_COMMAND=FOO', {command: 'FOO'}, {code: 4}),
      ])
      const del = await delWithoutNetnsProblem(ctx)
      if (del) problems.push(del)
      if (problems.length) fail(problems.join('; '), refusalHint(problems.join(' ')))
      return 'missing CNI_CONTAINERID, CNI_IFNAME or CNI_NETNS → 4, each named; unparsable → 6, no podcidr → 7, bad version → 1, unknown command → 4; DEL with CNI_NETNS empty → 0'
    },
  },
]
