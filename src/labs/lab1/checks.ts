import {accessSync, constants, existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {isIPv4} from 'node:net'
import {validateResult, isCidr} from '../../cni/result.js'
import {SUPPORTED_VERSIONS} from '../../cni/spec.js'
import {addrs, hostPeer, link, links, podAddresses, routes} from '../../net/ip.js'
import {httpGet, ping} from '../../net/probes.js'
import {run} from '../../host/exec.js'
import {PodService} from '../../pods/service.js'
import {CheckSkip, fail, type CheckDefinition} from '../../checks/engine.js'
import {CRI_CHECK_POD_PREFIX, type Lab1Context} from './context.js'
import {
  concurrentAdds,
  delWhenGone,
  duplicateAddresses,
  errorCaseProblems,
  type ErrorCase,
} from '../../checks/cni-assertions.js'
import {WAVE_TIMEOUT_MS, harmDone, podNetState, type CheckPod} from '../../checks/check-pods.js'
import {cidrInfo, ip2int} from '../../net/ipv4.js'

// Lab 1's checks. Each proves one thing about the learner's plugin through the real CNI
// path, and fails with what was seen vs what was expected.

/** The pod-side interface from a result: the one with a sandbox, or named CNI_IFNAME. */
function podIface(pod: CheckPod): {name: string; mac?: string} | undefined {
  const ifs = pod.outcome.result?.interfaces ?? []
  return ifs.find((i) => i.sandbox) ?? ifs.find((i) => i.name === pod.att.ifname)
}

async function podLink(pod: CheckPod) {
  return link(pod.att.ifname, pod.netnsName)
}

const hostEnd = (pod: CheckPod) => hostPeer(pod.netnsPath, pod.att.ifname)

/** A call of the learner's plugin that must be refused: ADD on a pod that is never made, unless overridden. */
const refusedCall = (
  ctx: Lab1Context,
  label: string,
  opts: {
    env?: Partial<Record<'containerId' | 'netns' | 'ifname', string | undefined>>
    stdin?: Record<string, unknown>
    stdinRaw?: string
    command?: string
  },
  want: {code: number; mention?: string},
): ErrorCase => ({
  label,
  ...want,
  call: {
    command: (opts.command ?? 'ADD') as 'ADD',
    type: 'ebpfcni',
    stdin: opts.stdin ?? {...ctx.plugin.learnerNet().raw},
    stdinRaw: opts.stdinRaw,
    containerId: opts.env && 'containerId' in opts.env ? opts.env.containerId : 'ebpfcni-check-errors',
    netns: opts.env && 'netns' in opts.env ? opts.env.netns : '/run/netns/ebpfcni-check-none',
    ifname: opts.env && 'ifname' in opts.env ? opts.env.ifname : 'eth0',
  },
})

/**
 * An optional runtime's check: skipped when its program is not installed, unless the run asked for
 * that runtime (then it is a failure); and not run at all once the plugin has hung.
 */
async function requireRuntime(
  ctx: Lab1Context,
  runtime: 'podman' | 'cri',
  program: string,
  packages: string,
): Promise<void> {
  const have = await run(program, ['--version'], {timeoutMs: 5000})
  if (have.startError) {
    if (ctx.plugin.opts.runtime === runtime)
      fail(`${program} is not installed`, `apt-get install -y ${packages} (or bash scripts/setup.sh)`)
    throw new CheckSkip(`${program} is not installed (pass --runtime ${runtime} to require it)`)
  }
  ctx.pods.assertNotHung()
}

/** What to look at when containerd could not make a sandbox on the learner's plugin. */
function criHint(seen: string): string {
  if (/CNI_ARGS|K8S_POD|unknown (arg|key)/i.test(seen))
    return 'containerd passes K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID and K8S_POD_UID in CNI_ARGS, with IgnoreUnknown=1: a plugin must ignore keys it does not use'
  if (/loopback/.test(seen))
    return 'containerd runs the loopback plugin for every pod: ln -s /usr/lib/cni/loopback /opt/cni/bin/loopback'
  if (/failed to find network info|interface|eth0/i.test(seen))
    return "containerd reads the pod IP from the result's interface named CNI_IFNAME (eth0): create and report exactly that interface"
  return 'this is the error the kubelet would show in `kubectl describe pod` (FailedCreatePodSandBox). containerd calls your plugin with no VERSION first, CNI_IFNAME=eth0, and K8S_* keys in CNI_ARGS'
}

export const LAB1_CHECKS: Array<CheckDefinition<Lab1Context>> = [
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
      if (problems.length) fail(problems.join('; '))
      return `${raw.name}: cniVersion ${raw.cniVersion}, podcidr ${raw.podcidr}, bridge ${raw.bridge ?? 'bridge0 (default)'}`
    },
  },
  {
    id: 'cni.version',
    cost: 'cheap',
    title: "VERSION answers in the cniVersion it was given and lists the versions it speaks, the config's included",
    hint: 'On CNI_COMMAND=VERSION print {"cniVersion": <the cniVersion on stdin>, "supportedVersions": ["0.3.1","0.4.0","1.0.0"]} and exit 0: jq -cn --arg v "$cni_version" --argjson s "$SUPPORTED" \'{cniVersion: $v, supportedVersions: $s}\'',
    run: async (ctx) => {
      const net = ctx.plugin.learnerNet()
      const version = async (v: string) => {
        const call = await ctx.pods.invoke(
          {command: 'VERSION', type: 'ebpfcni', stdin: {cniVersion: v}},
          `VERSION (${v})`,
        )
        if (!call.ok) fail(call.problem ?? 'VERSION failed')
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
    title: "failures print the spec's error JSON with the right code and exit non-zero",
    hint: 'Write one error() function: print {"cniVersion","code","msg","details"} to stdout and exit 1. Codes: 1 bad version, 4 bad CNI_* variable, 6 undecodable config, 7 invalid config.',
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
        refusedCall(ctx, 'ADD with an unparsable config', {stdinRaw: '{"cniVersion": "1.0.0", "name": '}, {code: 6}),
        refusedCall(ctx, 'ADD with a config without podcidr', {stdin: withoutPodcidr}, {code: 7}),
        refusedCall(ctx, 'ADD with cniVersion "0.1.0"', {stdin: {...net.raw, cniVersion: '0.1.0'}}, {code: 1}),
        refusedCall(ctx, 'CNI_COMMAND=FOO', {command: 'FOO'}, {code: 4}),
      ])
      if (problems.length) fail(problems.join('; '))
      return 'missing variable → 4, unparsable → 6, no podcidr → 7, bad version → 1, unknown command → 4'
    },
  },
  {
    id: 'cni.add.succeeds',
    title: 'ADD succeeds and prints a result',
    hint: 'ADD must exit 0 and print exactly one JSON result on stdout; send any logging to stderr (>&2).',
    run: async (ctx) => {
      const a = await ctx.plugin.podA()
      const call = a.outcome.calls.at(-1)
      if (!call?.ok) fail(a.outcome.problem ?? 'ADD failed')
      return `ADD exited 0 in ${Math.round(call.run?.durationMs ?? 0)} ms`
    },
  },
  {
    id: 'cni.add.result-schema',
    title: "the ADD result matches the spec for the config's version",
    hint: "Build the result with jq -n: interfaces (host veth, pod interface with mac and sandbox), ips (address in CIDR form, gateway, interface index into interfaces), routes. Use the config's cniVersion.",
    run: async (ctx) => {
      const a = await ctx.plugin.podA()
      const call = a.outcome.calls.at(-1)
      if (!call?.ok) throw new CheckSkip('needs a successful ADD (cni.add.succeeds)')
      const problems = validateResult(call.json, a.net.cniVersion)
      const r = call.json as {ips?: unknown[]; interfaces?: unknown[]}
      if (!Array.isArray(r.ips) || r.ips.length === 0)
        problems.push('"ips" is empty: the runtime cannot learn the pod\'s address')
      if (!Array.isArray(r.interfaces) || r.interfaces.length === 0) problems.push('"interfaces" is empty')
      if (problems.length) fail(problems.join('; '))
      return `valid ${a.net.cniVersion} result`
    },
  },
  {
    id: 'cni.add.iface',
    title: 'CNI_IFNAME exists in the pod, is up, and has the MAC the result says',
    hint: 'Create the veth with the pod end named "$CNI_IFNAME" inside "$CNI_NETNS" (ip link add … peer name "$CNI_IFNAME" netns "$CNI_NETNS"), bring it up, and report its MAC.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const l = await podLink(a)
      if (!l)
        fail(
          `no interface ${a.att.ifname} in the pod's netns; saw: ${(await links(a.netnsName)).map((x) => x.ifname).join(', ')}`,
        )
      if (!l.flags.includes('UP'))
        fail(
          `${a.att.ifname} is in the pod but down (flags ${l.flags.join(',')})`,
          `ip link set ${a.att.ifname} up inside the pod`,
        )
      const iface = podIface(a)
      if (!iface) fail(`the result has no interface with a "sandbox" or named ${a.att.ifname}`)
      if (!iface.mac) fail(`the result's pod interface has no "mac"; the interface's MAC is ${l.address}`)
      if (iface.mac.toLowerCase() !== l.address?.toLowerCase())
        fail(
          `the result says ${a.att.ifname} has MAC ${iface.mac} but it has ${l.address}`,
          'read the MAC after creating the veth (ip -br link show dev …) and put that in the result',
        )
      return `${a.att.ifname} is up with MAC ${l.address}`
    },
  },
  {
    id: 'cni.add.ip',
    title: "the result's address is on the pod interface, inside podcidr, not the gateway",
    hint: 'Allocate from podcidr, skipping the network address, the gateway (first host) and the broadcast; ip addr add ADDR/PREFIX dev "$CNI_IFNAME" inside the pod.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const ipcfg = a.outcome.result?.ips?.[0]
      if (!ipcfg) fail('the result has no ips')
      const [ip, prefix] = ipcfg.address.split('/')
      const c = cidrInfo(ctx.plugin.podcidrOf(a.net))
      const n = ip2int(ip)
      if (n < c.net || n > c.bcast) fail(`the pod got ${ip}, outside podcidr ${ctx.plugin.podcidrOf(a.net)}`)
      if (n === c.net || n === c.bcast)
        fail(
          `the pod got ${ip}, the ${n === c.net ? 'network' : 'broadcast'} address of ${ctx.plugin.podcidrOf(a.net)}`,
        )
      if (ip === c.gateway) fail(`the pod got ${ip}, which is the gateway (it belongs on the bridge)`)
      if (Number(prefix) !== c.prefix) fail(`the result's prefix is /${prefix} but podcidr is /${c.prefix}`)
      const on =
        (await addrs(a.netnsName, a.att.ifname))[0]?.addr_info
          .filter((x) => x.family === 'inet')
          .map((x) => `${x.local}/${x.prefixlen}`) ?? []
      if (!on.includes(ipcfg.address))
        fail(`the result says ${ipcfg.address} but ${a.att.ifname} has ${on.join(', ') || 'no IPv4 address'}`)
      return `${ipcfg.address} on ${a.att.ifname}`
    },
  },
  {
    id: 'cni.add.route',
    title: 'the pod has a default route via the gateway',
    hint: 'Inside the pod: ip route add default via GATEWAY dev "$CNI_IFNAME" (the gateway is the first host of podcidr).',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const gw = cidrInfo(ctx.plugin.podcidrOf(a.net)).gateway
      const def = (await routes(a.netnsName)).find((r) => r.dst === 'default')
      if (!def)
        fail(
          `no default route in the pod; routes: ${(await routes(a.netnsName)).map((r) => r.dst).join(', ') || 'none'}`,
        )
      if (def.gateway !== gw)
        fail(`the default route goes via ${def.gateway ?? `dev ${def.dev} (no gateway)`}; expected via ${gw}`)
      return `default via ${gw} dev ${def.dev}`
    },
  },
  {
    id: 'cni.add.bridge',
    title: 'the host end is up and on the bridge; the gateway address is on the bridge',
    hint: 'ip link set HOSTVETH master BRIDGE up; ip addr add GATEWAY/PREFIX dev BRIDGE (once, when you create the bridge); ip link set BRIDGE up.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const bridge = ctx.plugin.bridgeOf(a.net)
      const host = await hostEnd(a)
      if (!host) fail(`cannot find the host end of ${a.att.ifname}: is it a veth pair with one end in the pod?`)
      if (host.master !== bridge)
        fail(
          `host end ${host.ifname} is ${host.master ? `on ${host.master}` : 'not on any bridge'}; expected on ${bridge}`,
        )
      if (!host.flags.includes('UP')) fail(`host end ${host.ifname} is down`, `ip link set ${host.ifname} up`)
      const br = await link(bridge)
      if (!br?.flags.includes('UP')) fail(`bridge ${bridge} is down`)
      const c = cidrInfo(ctx.plugin.podcidrOf(a.net))
      const on = (await addrs(undefined, bridge))[0]?.addr_info.map((x) => `${x.local}/${x.prefixlen}`) ?? []
      if (!on.includes(`${c.gateway}/${c.prefix}`))
        fail(`bridge ${bridge} has ${on.join(', ') || 'no address'}; expected the gateway ${c.gateway}/${c.prefix}`)
      return `${host.ifname} on ${bridge} (${c.gateway}/${c.prefix})`
    },
  },
  {
    id: 'cni.connectivity',
    title: 'pods reach each other over HTTP and the gateway over ICMP',
    hint: 'If addresses and routes are right but traffic fails: is the host veth up and on the bridge, the bridge up, and is net.ipv4.ip_forward=1?',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.outcome.ok || !b.ip) fail(`a second pod's ADD failed: ${b.outcome.problem}`)
      const get = await httpGet(b.netnsPath, `http://${a.ip}/get`)
      if (!get.ok) fail(`sleep pod (${b.ip}) → httpbin pod (${a.ip}): ${get.detail}`)
      const gw = cidrInfo(ctx.plugin.podcidrOf(a.net)).gateway
      const p = await ping(b.netnsPath, gw, 1, 2)
      if (!p.ok) fail(`sleep pod → gateway ${gw}: ${p.detail}`)
      return `${b.ip} → ${a.ip}:80 HTTP 200; ${b.ip} → ${gw} ICMP`
    },
  },
  {
    id: 'cni.add.repeat',
    title: 'a second ADD works with the bridge present; ADD into a pod that already has CNI_IFNAME fails cleanly',
    hint: 'Only create the bridge if it is missing (ip link show dev BRIDGE || ip link add …). Before allocating, refuse an ADD whose CNI_IFNAME already exists in the netns, with an error JSON.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.outcome.ok) fail(`a second pod's ADD failed while the bridge already existed: ${b.outcome.problem}`)
      const bridge = ctx.plugin.bridgeOf(a.net)
      const portsBefore = (await links()).filter((l) => l.master === bridge).length
      const stateBefore = await podNetState(a)
      const dup = await ctx.pods.invoke(
        {
          command: 'ADD',
          type: 'ebpfcni',
          stdin: {...a.net.raw},
          containerId: 'ebpfcni-check-dup',
          netns: a.netnsPath,
          ifname: a.att.ifname,
        },
        'a duplicate ADD',
      )
      const portsAfter = (await links()).filter((l) => l.master === bridge).length
      if (dup.run?.exitCode === 0)
        fail(`ADD into a pod that already has ${a.att.ifname} exited 0; it must fail with an error`)
      if (!dup.error) fail(`ADD into a pod that already has ${a.att.ifname}: ${dup.problem}`)
      if (portsAfter !== portsBefore) fail(`the failed ADD left ${portsAfter - portsBefore} extra veth(s) on ${bridge}`)
      const harm = await harmDone(a, stateBefore, cidrInfo(ctx.plugin.podcidrOf(a.net)).gateway)
      if (harm.length)
        fail(
          `the duplicate ADD was refused (code ${dup.error.code}), but it changed the pod it refused: ${harm.join('; ')}`,
          'check that CNI_IFNAME is free before you touch anything in the pod; a refusal must leave the existing pod exactly as it was',
        )
      // The address it may have taken must be free again: DEL of the duplicate id must be harmless.
      await ctx.pods.invoke(
        {
          command: 'DEL',
          type: 'ebpfcni',
          stdin: {...a.net.raw},
          containerId: 'ebpfcni-check-dup',
          netns: a.netnsPath,
          ifname: 'ebpfcni-none',
        },
        'DEL of the duplicate',
      )
      return `second pod ADD ok; duplicate ADD refused with code ${dup.error.code}, nothing left, the existing pod unchanged and reachable`
    },
  },
  {
    id: 'cni.check',
    title: 'CHECK passes on a healthy pod and fails once its address is removed',
    hint: 'On CHECK read .prevResult.ips[0].address and verify the interface, the address and the default route inside the pod; print an error JSON and exit 1 when something is missing.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      if (a.net.cniVersion.startsWith('0.3'))
        throw new CheckSkip(`CHECK does not exist in cniVersion ${a.net.cniVersion}`)
      const b = await ctx.plugin.podB()
      if (!b.outcome.ok || !b.outcome.result) throw new CheckSkip('needs a second healthy pod')
      const healthy = await ctx.pods.check(b, 'CHECK of a healthy pod')
      if (!healthy.ok) fail(`CHECK on a healthy pod failed: ${healthy.problem}`)
      const addr = b.outcome.result.ips?.[0]?.address
      await run('ip', ['-n', b.netnsName, 'addr', 'del', String(addr), 'dev', b.att.ifname], {timeoutMs: 5000})
      const broken = await ctx.pods.check(b, 'CHECK of a broken pod')
      await run('ip', ['-n', b.netnsName, 'addr', 'add', String(addr), 'dev', b.att.ifname], {timeoutMs: 5000})
      await run(
        'ip',
        ['-n', b.netnsName, 'route', 'replace', 'default', 'via', cidrInfo(ctx.plugin.podcidrOf(b.net)).gateway],
        {timeoutMs: 5000},
      )
      if (broken.ok) fail(`CHECK passed after ${addr} was removed from ${b.att.ifname}; it must verify the address`)
      const error = broken.calls.at(-1)?.error
      if (!error) fail(`CHECK after removing the address failed without an error JSON: ${broken.problem}`)
      return `healthy: pass; address removed: ${error.msg}`
    },
  },
  {
    id: 'cni.del.cleanup',
    cost: 'heavy',
    title: 'DEL removes the host veth and frees the address for reuse',
    hint: 'On DEL: ip link del the host end (the pod end goes with it), and remove the address from your allocation state. DEL gets the same CNI_CONTAINERID and CNI_IFNAME as ADD.',
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('del') // a /29: 5 addresses for pods
      const pods: CheckPod[] = []
      for (let i = 0; i < 5; i++) {
        const p = await ctx.pods.attach(net, `fill${i}`)
        if (!p.outcome.ok) fail(`ADD ${i + 1} of 5 in a /29 failed: ${p.outcome.problem}`)
        pods.push(p)
      }
      const victim = pods[2]
      const veth = await hostEnd(victim)
      const del = await ctx.pods.detach(victim, {keepNetns: true})
      if (!del.ok) fail(`DEL failed: ${del.problem}`)
      if (veth && (await link(veth.ifname)))
        fail(`after DEL the host veth ${veth.ifname} still exists`, 'ip link del "$HOSTVETH" in DEL')
      if (await podLink(victim)) fail(`after DEL ${victim.att.ifname} still exists in the pod`)
      await ctx.pods.detach(victim).catch(() => undefined)
      const again = await ctx.pods.attach(net, 'reuse')
      if (!again.outcome.ok)
        fail(
          `the /29 was full (5 pods), one was DELeted, and a new ADD failed: the address was not freed (${again.outcome.problem})`,
          'DEL must release the address in your allocation state',
        )
      return `DEL removed ${veth?.ifname ?? 'the veth'}; its address was reused by the next ADD (${again.ip})`
    },
  },
  {
    id: 'cni.del.idempotent',
    title: 'DEL succeeds twice, and after the netns is gone',
    hint: 'DEL must not fail when things are already gone: `ip link del … 2>/dev/null || true`, and never require CNI_NETNS to exist on DEL.',
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('idem')
      const p = await ctx.pods.attach(net, 'idem')
      if (!p.outcome.ok) throw new CheckSkip(`needs a successful ADD (${p.outcome.problem})`)
      const first = await ctx.pods.detach(p, {keepNetns: true})
      if (!first.ok) fail(`the first DEL failed: ${first.problem}`)
      const gone = await delWhenGone(ctx.pods, net, p, 'gone')
      if (gone.second)
        fail(
          `a second DEL of the same pod failed: ${gone.second}`,
          'the spec requires DEL to succeed when the resources are already gone',
        )
      if (gone.skipped) throw new CheckSkip(gone.skipped)
      if (gone.netnsGone)
        fail(
          `DEL after the pod's netns was deleted failed: ${gone.netnsGone}`,
          'the runtime may call DEL after the netns is gone; skip the netns work and still release the address',
        )
      return 'DEL twice: ok; DEL after the netns is gone: ok'
    },
  },
  {
    id: 'cni.add.no-leak-on-failure',
    cost: 'heavy',
    title: 'an ADD that fails half-way leaves no veth and no allocated address',
    hint: 'Allocate the address last, or undo on failure: if any step after allocation fails, delete the veth and free the address before printing the error.',
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('leak') // a /29: 5 addresses
      const bridge = ctx.plugin.bridgeOf(net)
      const bystander = await ctx.pods.attach(net, 'bystander')
      if (!bystander.outcome.ok) fail(`the first ADD in a fresh /29 failed: ${bystander.outcome.problem}`)
      const stateBefore = await podNetState(bystander)
      const bystanderVeth = (await hostEnd(bystander))?.ifname
      for (let i = 0; i < 4; i++) {
        // A path that exists but is no netns: early validation passes, moving the veth there fails.
        const bogus = join(ctx.pods.tmp, `not-a-netns-${i}`)
        writeFileSync(bogus, '')
        const p = await ctx.pods.attach(net, `doomed${i}`, {netns: bogus})
        if (p.outcome.ok) fail(`ADD into ${bogus}, a plain file and not a network namespace, succeeded`)
        if (!p.outcome.calls.at(-1)?.error) fail(`a failing ADD gave no error JSON: ${p.outcome.problem}`)
      }
      const stray = (await links()).filter((l) => l.master === bridge && l.ifname !== bystanderVeth)
      if (stray.length)
        fail(
          `after 4 failed ADDs, ${stray.length} veth(s) are left on ${bridge}: ${stray.map((l) => l.ifname).join(', ')}`,
        )
      const harm = await harmDone(bystander, stateBefore, cidrInfo(ctx.plugin.podcidrOf(net)).gateway)
      if (harm.length)
        fail(
          `4 ADDs failed, and their undo damaged a pod that was already there: ${harm.join('; ')}`,
          'undo only what this ADD made: the veth it created and the address it allocated, found by CNI_CONTAINERID',
        )
      for (let i = 0; i < 4; i++) {
        const p = await ctx.pods.attach(net, `after${i}`)
        if (!p.outcome.ok)
          fail(
            `after 4 failed ADDs, ADD ${i + 2} of 5 in a /29 failed (${p.outcome.problem}): the failed ADDs kept their addresses`,
          )
      }
      return '4 failed ADDs left nothing and did not touch the existing pod; the /29 still took 5 pods'
    },
  },
  {
    id: 'cni.ipam.unique',
    cost: 'heavy',
    title: 'a /27 filled completely, sequentially then concurrently, gets distinct, usable, reachable addresses',
    hint: "Random IPs collide ($RANDOM % 255 is the original's bug). Keep allocation state (one file per address) and hold a lock (flock) from choosing an address to recording it, and only that long.",
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('ipam')
      const c = cidrInfo(ctx.plugin.podcidrOf(net))
      // Every address of a small subnet: a random or racy allocator collides long before it is full.
      const capacity = c.bcast - c.net - 2
      const sequential = Math.floor(capacity / 2)
      const pods: CheckPod[] = []
      for (let i = 0; i < sequential; i++) pods.push(await ctx.pods.attach(net, `seq${i}`))
      const failedSeq = pods.filter((p) => !p.outcome.ok)
      if (failedSeq.length)
        fail(`${failedSeq.length} of ${sequential} sequential ADDs failed; first: ${failedSeq[0].outcome.problem}`)
      const wave = await concurrentAdds(ctx.pods, net, capacity - sequential, 'par', WAVE_TIMEOUT_MS)
      pods.push(...wave.pods)
      const slowest = wave.slowestMs
      const failed = wave.failed
      if (failed.length) {
        if (wave.hung)
          fail(
            `${failed.length} of ${wave.pods.length} concurrent ADDs failed; one did not finish within ${WAVE_TIMEOUT_MS / 1000} s, a deadline a real runtime would also give up at: ${wave.hung.outcome.problem}`,
            'a concurrent ADD that never finishes is a deadlock: a lock taken twice, or never released on an error path',
          )
        fail(
          `${failed.length} of ${wave.pods.length} concurrent ADDs failed (slowest took ${(slowest / 1000).toFixed(1)} s); first: ${failed[0].outcome.problem}`,
        )
      }
      // Every pod has an address here: a pod whose ADD failed ended the check above.
      const ips = pods.map((p) => p.ip ?? '')
      const dupes = duplicateAddresses(ips)
      if (dupes.length)
        fail(
          `${dupes.length} address(es) were given to more than one pod: ${dupes.slice(0, 5).join(', ')}${dupes.length > 5 ? '…' : ''}`,
        )
      const reserved = ips.filter((ip) => [c.net, c.bcast, ip2int(c.gateway)].includes(ip2int(ip)))
      if (reserved.length) fail(`pods got reserved addresses (network, gateway or broadcast): ${reserved.join(', ')}`)
      const over = await ctx.pods.attach(net, 'overflow')
      if (over.outcome.ok)
        fail(
          `all ${capacity} addresses of ${ctx.plugin.podcidrOf(net)} were taken, yet ADD number ${capacity + 1} succeeded with ${over.ip}`,
          'when no address is free, ADD must fail with an error JSON (code 11, "try again later"), not reuse one',
        )
      const refusal = over.outcome.calls.at(-1)?.error
      if (!refusal)
        fail(`with ${ctx.plugin.podcidrOf(net)} full, ADD failed without an error JSON: ${over.outcome.problem}`)
      const unreachable: string[] = []
      for (let i = 0; i < ips.length; i += 15) {
        const batch = await Promise.all(ips.slice(i, i + 15).map((ip) => ping(pods[0].netnsPath, ip, 1, 2)))
        batch.forEach((r, j) => r.ok || unreachable.push(ips[i + j]))
      }
      if (unreachable.length)
        fail(
          `${unreachable.length} of ${capacity} pods are not reachable from the first: ${unreachable.slice(0, 5).join(', ')}`,
        )
      return `${ctx.plugin.podcidrOf(net)} filled: ${sequential} sequential + ${wave.pods.length} concurrent ADDs (slowest ${(slowest / 1000).toFixed(1)} s), ${capacity} distinct addresses, all reachable; ADD ${capacity + 1} refused with code ${refusal.code}`
    },
  },
  {
    id: 'runtime.podman',
    cost: 'heavy',
    title: 'podman runs two containers on your plugin and they talk',
    hint: 'podman calls VERSION before every operation and DEL on rm with prevResult on stdin; a broken VERSION makes podman drop the network with only a warning.',
    run: async (ctx) => {
      await requireRuntime(ctx, 'podman', 'podman', 'podman runc')
      const net = ctx.plugin.checkNet('podman')
      const pods = new PodService(ctx.pods.ledger)
      const tag = `${process.pid % 10000}`
      const [a, b] = [`chk-web-${tag}`, `chk-cli-${tag}`]
      try {
        const web = await pods
          .add({name: a, configFile: net.source, cniPath: ctx.pods.cniPath, workload: 'httpbin', lab: 1}, 'podman')
          .catch((e: Error) => fail(`podman run on your plugin failed: ${e.message}`))
        const cli = await pods
          .add({name: b, configFile: net.source, cniPath: ctx.pods.cniPath, workload: 'sleep', lab: 1}, 'podman')
          .catch((e: Error) => fail(`a second podman container failed: ${e.message}`))
        if (!web.ip || !cli.ip)
          fail(
            `podman reports no IP for the containers (${web.ip ?? 'none'}, ${cli.ip ?? 'none'}): did it drop the network after a VERSION problem?`,
          )
        const get = await httpGet(cli.netnsPath, `http://${web.ip}/get`)
        if (!get.ok) fail(`container ${cli.ip} → container ${web.ip}: ${get.detail}`)
        return `podman containers ${cli.ip} → ${web.ip} HTTP ok`
      } finally {
        for (const n of [a, b]) await pods.remove(n).catch(() => undefined)
      }
    },
  },
  {
    id: 'runtime.cri',
    cost: 'heavy',
    title: "the kubelet's path: containerd's CRI plugin runs two pods on your plugin and they talk",
    hint: 'containerd calls your plugin itself: no VERSION call; CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=…;K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=…;K8S_POD_UID=… (ignore keys you do not know); CNI_IFNAME=eth0; DEL twice on stop and remove, the second with an empty CNI_NETNS.',
    run: async (ctx) => {
      await requireRuntime(ctx, 'cri', 'containerd', 'containerd')
      const confDir = dirname(ctx.plugin.opts.configFile)
      // libcni, as containerd's CRI plugin uses it, takes the first config file by name, nothing else.
      const first = readdirSync(confDir)
        .filter((f) => /\.(conf|conflist|json)$/.test(f))
        .sort()[0]
      if (first !== basename(ctx.plugin.opts.configFile))
        fail(
          `containerd would use ${join(confDir, String(first))}, not your ${basename(ctx.plugin.opts.configFile)}: the CRI plugin reads only the first config file in ${confDir}, by name`,
          `rename yours to sort first (a lower number, like 05-ebpfcni.conf), or move ${first} away`,
        )
      if (!existsSync(join(ctx.plugin.opts.cniBinDir, 'loopback')))
        fail(
          `there is no loopback plugin in ${ctx.plugin.opts.cniBinDir}: containerd runs it for every pod before yours`,
          `ln -s /usr/lib/cni/loopback ${ctx.plugin.opts.cniBinDir}/loopback (scripts/setup.sh does it)`,
        )
      const pods = new PodService(ctx.pods.ledger)
      const tag = `${process.pid % 10000}`
      const [a, b] = [`${CRI_CHECK_POD_PREFIX}web-${tag}`, `${CRI_CHECK_POD_PREFIX}cli-${tag}`]
      await ctx.plugin.criDaemonForThisRun()
      try {
        const add = (name: string, workload: 'httpbin' | 'sleep') =>
          pods.add(
            {
              name,
              configFile: ctx.plugin.opts.configFile,
              cniPath: [ctx.plugin.opts.cniBinDir],
              workload,
              lab: 1,
              labels: {app: workload},
            },
            'cri',
          )
        const why = (e: Error): never => fail(`${e.message}`, criHint(e.message))
        const web = await add(a, 'httpbin').catch(why)
        const cli = await add(b, 'sleep').catch(why)
        if (!web.ip || !cli.ip)
          fail(
            `containerd reports no pod IP (${web.ip ?? 'none'}, ${cli.ip ?? 'none'}): it takes the IP from your result's "ips" for the interface named CNI_IFNAME (eth0)`,
            'name the pod interface exactly "$CNI_IFNAME", and list it in "interfaces" with its "sandbox", and the address in "ips" pointing at it',
          )
        const onIface = await podAddresses(web.netnsPath, 'eth0')
        if (!onIface.includes(web.ip))
          fail(
            `CRI reports pod IP ${web.ip}, but eth0 in the pod has ${onIface.join(', ') || 'no IPv4 address'}: the IP Kubernetes shows is whatever your result says`,
            'report the address you put on the interface',
          )
        const get = await httpGet(cli.netnsPath, `http://${web.ip}/get`)
        if (!get.ok) fail(`CRI pod ${cli.ip} → CRI pod ${web.ip}: ${get.detail}`)
        return `containerd ran pods ${web.ip} and ${cli.ip} through your plugin (netns ${web.netnsPath.split('/').pop()}); HTTP between them ok`
      } finally {
        for (const n of [a, b]) await pods.remove(n).catch(() => undefined)
      }
    },
  },
]
