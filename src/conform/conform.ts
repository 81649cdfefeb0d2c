import {loadNetworkConfig, pluginStdin, type NetworkConfig} from '../cni/config.js'
import {pluginVersion} from '../cni/network.js'
import {SPEC_SECTIONS, versionHas} from '../cni/spec.js'
import {addrs, link} from '../net/ip.js'
import {CheckPods, type CheckPod} from '../checks/check-pods.js'
import {CheckSkip, fail, noneFailed, runCheckList, type CheckDefinition, type CheckResult} from '../checks/engine.js'
import {concurrentAdds, delWhenGone, errorCaseProblems} from '../checks/cni-assertions.js'

// `ebpfcni conform`: the spec-level subset of lab 1's checks (sharing their assertions, checks/cni-assertions.ts), against any plugin or conflist
// (Debian's bridge + host-local, the learner's, a third party's). There is no public CNI
// conformance suite; each failure here names the SPEC section it breaks.

type Section = keyof typeof SPEC_SECTIONS
function breaks(section: Section, message: string): never {
  return fail(`${SPEC_SECTIONS[section]}: ${message}`)
}

export interface ConformReport {
  config: string
  network: string
  cniVersion: string
  plugins: string[]
  passed: boolean
  durationMs: number
  checks: CheckResult[]
}

class ConformContext extends CheckPods {
  constructor(
    readonly net: NetworkConfig,
    cniPath: string[],
    timeoutMs: number,
  ) {
    super(cniPath, timeoutMs, 'check:conform')
  }

  /** One healthy attachment shared by the ADD, CHECK and DEL checks. */
  pod(): Promise<CheckPod> {
    return this.once('pod', () => this.attach(this.net, 'conform'))
  }

  async healthyPod(): Promise<CheckPod> {
    const p = await this.pod()
    if (!p.outcome.ok) throw new CheckSkip('needs a successful ADD (spec.add.result)')
    return p
  }
}

const CONFORM_CHECKS: Array<CheckDefinition<ConformContext>> = [
  {
    id: 'spec.version',
    title: "VERSION: every plugin lists its versions, including the config's",
    hint: 'On CNI_COMMAND=VERSION print {"cniVersion","supportedVersions":[...]} and exit 0.',
    run: async (ctx) => {
      const seen: string[] = []
      for (const p of ctx.net.plugins) {
        const v = await pluginVersion(String(p.type), ctx.net.cniVersion, {
          cniPath: ctx.cniPath,
          timeoutMs: ctx.timeoutMs,
        })
        if (!v.ok) breaks('version', v.problem ?? 'VERSION failed')
        seen.push(`${p.type}: ${(v.supportedVersions ?? []).join(', ')}`)
      }
      return seen.join('; ')
    },
  },
  {
    id: 'spec.errors',
    title: "errors: the spec's error JSON with the defined code and a non-zero exit",
    hint: 'Missing CNI_* variable → code 4, undecodable config → 6, unknown command → 4, unsupported cniVersion → 1; JSON on stdout, exit non-zero.',
    run: async (ctx) => {
      const first = ctx.net.plugins[0]
      const stdin = pluginStdin(ctx.net, first)
      const base = {
        type: String(first.type),
        netns: '/run/netns/ebpfcni-conform-none',
        ifname: 'eth0',
      }
      const call = (
        command: string,
        extra: {stdin?: Record<string, unknown>; stdinRaw?: string; containerId?: string},
      ) => ({
        ...base,
        command: command as 'ADD',
        stdin,
        ...extra,
      })
      const problems = await errorCaseProblems(ctx, [
        {label: 'ADD without CNI_CONTAINERID', code: 4, call: call('ADD', {})},
        {
          label: 'ADD with an undecodable config',
          code: 6,
          call: call('ADD', {stdinRaw: '{"cniVersion":', containerId: 'conform'}),
        },
        {label: 'CNI_COMMAND=FOO', code: 4, call: call('FOO', {containerId: 'conform'})},
        {
          label: 'ADD with cniVersion "9.9.9"',
          code: 1,
          call: call('ADD', {stdin: {...stdin, cniVersion: '9.9.9'}, containerId: 'conform'}),
        },
      ])
      if (problems.length) breaks('error', problems.join('; '))
      return 'missing variable → 4, undecodable → 6, unknown command → 4, unsupported version → 1'
    },
  },
  {
    id: 'spec.add.result',
    title: "ADD: every plugin of the list succeeds with a valid result of the config's version",
    hint: "Print exactly one JSON result on stdout in the config's cniVersion; logs go to stderr.",
    run: async (ctx) => {
      const p = await ctx.pod()
      if (!p.outcome.ok) breaks(p.outcome.resultProblems ? 'result' : 'add', p.outcome.problem ?? 'ADD failed')
      return `${ctx.net.plugins.length} plugin(s) chained; result has ${p.outcome.result?.interfaces?.length ?? 0} interface(s), ${p.outcome.result?.ips?.length ?? 0} IP(s)`
    },
  },
  {
    id: 'spec.add.state',
    title: "ADD: the container's interfaces and addresses are as the result says",
    hint: 'Report the MAC the interface really has, and put every reported address on the interface its index names.',
    run: async (ctx) => {
      const p = await ctx.healthyPod()
      const r = p.outcome.result
      if (!r) throw new CheckSkip('needs a result from ADD (spec.add.result)')
      const ifaces = r.interfaces ?? []
      const inSandbox = ifaces.filter((i) => i.sandbox)
      if (inSandbox.length === 0)
        breaks(
          'result',
          'no interface in the result has a "sandbox": the runtime cannot tell which is the container\'s',
        )
      for (const i of inSandbox) {
        if (i.sandbox !== p.netnsPath)
          breaks('result', `interface ${i.name} reports sandbox ${i.sandbox}, but CNI_NETNS was ${p.netnsPath}`)
        const l = await link(i.name, p.netnsName)
        if (!l) breaks('add', `the result names ${i.name} in the container, but it does not exist there`)
        if (i.mac && i.mac.toLowerCase() !== l.address?.toLowerCase())
          breaks('result', `${i.name} has MAC ${l.address}, the result says ${i.mac}`)
      }
      for (const ip of r.ips ?? []) {
        if (ip.interface === undefined || !ifaces[ip.interface]?.sandbox) continue
        const name = ifaces[ip.interface].name
        const on = (await addrs(p.netnsName, name))[0]?.addr_info.map((a) => `${a.local}/${a.prefixlen}`) ?? []
        if (!on.includes(ip.address))
          breaks('add', `${ip.address} is reported on ${name} but ${name} has ${on.join(', ') || 'no address'}`)
      }
      return `${inSandbox.map((i) => i.name).join(', ')} present with the reported MAC and addresses`
    },
  },
  {
    id: 'spec.check',
    title: 'CHECK: passes on a healthy attachment (0.4.0+)',
    hint: 'CHECK gets the ADD result as prevResult; exit 0 with no output when all is as it says.',
    run: async (ctx) => {
      if (!versionHas(ctx.net.cniVersion, 'CHECK'))
        throw new CheckSkip(`CHECK does not exist in cniVersion ${ctx.net.cniVersion}`)
      if (ctx.net.disableCheck) throw new CheckSkip('the config sets disableCheck')
      const p = await ctx.healthyPod()
      const out = await ctx.check(p, 'CHECK')
      if (!out.ok) breaks('check', out.problem ?? 'CHECK failed')
      return 'CHECK passed'
    },
  },
  {
    id: 'spec.del',
    title: "DEL: succeeds and removes the container's interface",
    hint: 'DEL gets the same CNI_CONTAINERID and CNI_IFNAME as ADD, and the ADD result as prevResult.',
    run: async (ctx) => {
      const p = await ctx.healthyPod()
      const del = await ctx.detach(p, {keepNetns: true})
      if (!del.ok) breaks('del', del.problem ?? 'DEL failed')
      if (await link(p.att.ifname, p.netnsName))
        breaks('del', `after DEL, ${p.att.ifname} still exists in the container`)
      return `DEL removed ${p.att.ifname}`
    },
  },
  {
    id: 'spec.del.idempotent',
    title: "DEL: succeeds again, and after the container's netns is gone",
    hint: 'A DEL must succeed when what it would remove is already gone.',
    run: async (ctx) => {
      const p = await ctx.healthyPod()
      const gone = await delWhenGone(ctx, ctx.net, p, 'conform-gone')
      if (gone.second) breaks('del', `a second DEL failed: ${gone.second}`)
      if (gone.skipped) throw new CheckSkip(gone.skipped)
      if (gone.netnsGone) breaks('del', `DEL after the netns was deleted failed: ${gone.netnsGone}`)
      return 'second DEL ok; DEL without the netns ok'
    },
  },
  {
    id: 'spec.concurrency',
    title: 'concurrency: 10 ADDs for different containers at once all succeed with distinct addresses',
    hint: 'Hold a lock around allocation; never pick an address from state another ADD may be changing.',
    run: async (ctx) => {
      const wave = await concurrentAdds(ctx, ctx.net, 10, 'conc')
      if (wave.failed.length)
        breaks(
          'concurrency',
          `${wave.failed.length} of 10 concurrent ADDs failed; first: ${wave.failed[0].outcome.problem}`,
        )
      if (wave.duplicates.length)
        breaks('concurrency', `addresses given to more than one container: ${wave.duplicates.join(', ')}`)
      const ips = wave.pods.map((p) => p.ip).filter(Boolean)
      return `10 concurrent ADDs: ${ips.length} distinct addresses`
    },
  },
]

export async function runConform(opts: {
  configFile: string
  cniPath: string[]
  timeoutMs?: number
  onCheck?: (r: CheckResult) => void
}): Promise<ConformReport> {
  const started = performance.now()
  const net = loadNetworkConfig(opts.configFile)
  const ctx = new ConformContext(net, opts.cniPath, opts.timeoutMs ?? 10_000)
  let checks: CheckResult[]
  try {
    checks = await runCheckList(CONFORM_CHECKS, ctx, {onCheck: (_id, _title, r) => r && opts.onCheck?.(r)})
  } finally {
    await ctx.cleanup()
  }
  return {
    config: opts.configFile,
    network: net.name,
    cniVersion: net.cniVersion,
    plugins: net.plugins.map((p) => String(p.type)),
    passed: checks.length > 0 && noneFailed(checks),
    durationMs: Math.round(performance.now() - started),
    checks,
  }
}
