import {validateResult} from '#cni/result.js'
import {failedAddHint} from '#cni/add-failure.js'
import {addrs, link, links, routes} from '#net/ip.js'
import {httpGet, ping} from '#net/probes.js'
import {CheckSkip, fail, type CheckCause, type CheckDefinition} from '#checks/engine.js'
import {type Lab1Context} from '../context.js'
import {cidrInfo, ip2int} from '#net/ipv4.js'
import {podIface, podLink, hostEnd} from './shared.js'
import type {CheckPod} from '#checks/check-pods.js'

/** Step add's checks (lab.yaml orders the run). */
export const ADD_CHECKS: Array<CheckDefinition<Lab1Context>> = [
  {
    id: 'cni.add.succeeds',
    title: 'ADD succeeds and prints a result',
    hint: 'ADD must exit 0 and print exactly one JSON result on stdout; send any logging to stderr (>&2).',
    run: async (ctx) => {
      const a = await ctx.plugin.podA()
      const call = a.outcome.calls.at(-1)
      if (!call?.ok) fail(a.outcome.problem ?? 'ADD failed', await addFailureHint(ctx, a))
      return `ADD exited 0 in ${Math.round(call.run?.durationMs ?? 0)} ms`
    },
  },
  {
    id: 'cni.add.result-schema',
    title: "the ADD result matches the spec for the config's version",
    hint: 'ADD\'s last line: the starter\'s result_json "$hostveth" "$CNI_IFNAME" "$addr/$prefix": it prints the result the spec asks for, in the config\'s cniVersion (interfaces with mac and sandbox, ips with address in CIDR form, gateway and interface index, routes).',
    run: async (ctx) => {
      const a = await ctx.plugin.podA()
      const call = a.outcome.calls.at(-1)
      if (!call?.ok) throw new CheckSkip('needs a successful ADD (cni.add.succeeds)')
      const problems = validateResult(call.json, a.net.cniVersion)
      const r = call.json as {ips?: unknown[]; interfaces?: unknown[]}
      if (!Array.isArray(r.ips) || r.ips.length === 0)
        problems.push('"ips" is empty: the runtime cannot learn the pod\'s address')
      if (!Array.isArray(r.interfaces) || r.interfaces.length === 0) problems.push('"interfaces" is empty')
      if (problems.length) {
        // Walked: a result of the learner's own with "addr" for "address"; result_json has it right.
        const missing = /has no "(\w+)"/.exec(problems.join(' '))?.[1]
        fail(
          problems.join('; '),
          missing
            ? `the spec's key is "${missing}": print the starter's result_json "$hostveth" "$CNI_IFNAME" "$addr/$prefix" as ADD's result rather than a JSON of your own, or spell the key as the spec does`
            : undefined,
        )
      }
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
      if (typeof ipcfg.address !== 'string')
        throw new CheckSkip('needs ips[0].address in the result (cni.add.result-schema)')
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
      const on = await ipv4On(a)
      const wrongPrefix = prefixProblem(a, ipcfg.address, on, c.prefix)
      if (wrongPrefix) fail(wrongPrefix, PREFIX_HINT)
      if (!on.includes(ipcfg.address))
        fail(`the result says ${ipcfg.address} but ${a.att.ifname} has ${on.join(', ') || 'no IPv4 address'}`)
      // Walked: `ip addr add "$addr/24"` passes on a /24 podcidr. One pod on a network of another prefix.
      const net = ctx.plugin.checkNet('prefix')
      const netCidr = ctx.plugin.podcidrOf(net)
      const p = await ctx.pods.attach(net, 'prefix')
      try {
        const address = p.outcome.result?.ips?.[0]?.address
        if (!p.outcome.ok || typeof address !== 'string')
          fail(
            `ADD on a network with podcidr ${netCidr} ${p.outcome.ok ? 'printed a result without ips[0].address' : `failed: ${p.outcome.problem}`}; on ${ctx.plugin.podcidrOf(a.net)} it worked`,
            'derive every number from podcidr (prefix=${podcidr#*/}), never assume a /24',
          )
        const other = prefixProblem(p, address, await ipv4On(p), cidrInfo(netCidr).prefix, netCidr)
        if (other) fail(other, PREFIX_HINT)
        return `${ipcfg.address} on ${a.att.ifname}; on a ${netCidr} network, ${address}`
      } finally {
        await ctx.pods.detach(p).catch(() => undefined)
      }
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
    hint: 'ip link set HOSTVETH master BRIDGE up; ip addr replace GATEWAY/PREFIX dev BRIDGE on every ADD (the bridge may exist already, without it); ip link set BRIDGE up.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const fault = await bridgeFault(ctx, a)
      if (fault) fail(fault.message, fault.hint, fault.cause)
      const c = cidrInfo(ctx.plugin.podcidrOf(a.net))
      const host = await hostEnd(a)
      return `${host?.ifname} on ${ctx.plugin.bridgeOf(a.net)} (${c.gateway}/${c.prefix})`
    },
  },
  {
    id: 'cni.connectivity',
    title: 'pods reach each other over HTTP and the gateway over ICMP',
    hint: 'Pods on one bridge reach each other at layer 2: both host veths up and on the bridge, the bridge up; the gateway answers once its address is on the bridge. ebpfcni observe --kernel --follow names what the kernel dropped.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.outcome.ok || !b.ip)
        fail(
          `the first pod's ADD succeeded, a second pod's ADD failed: ${b.outcome.problem}`,
          (await failedAddHint(b.outcome, b.att, {
            bridge: ctx.plugin.bridgeOf(b.net),
            onHostBefore: b.ifnameOnHostBefore,
          })) ??
            "ADD must work for every pod, not only the first: run it by hand for a second container id and read what it printed (ebpfcni pod add, then the plugin's stderr above)",
        )
      // Traffic failed: the bridge fault behind it, when there is one (the same cause cni.add.bridge names).
      const failed = async (seen: string): Promise<never> => {
        for (const p of [a, b]) {
          const fault = await bridgeFault(ctx, p)
          if (fault) fail(`${seen}; ${fault.message}`, fault.hint, fault.cause)
        }
        return fail(seen)
      }
      const get = await httpGet(b.netnsPath, `http://${a.ip}/get`)
      if (!get.ok) await failed(`sleep pod (${b.ip}) → httpbin pod (${a.ip}): ${get.detail}`)
      const gw = cidrInfo(ctx.plugin.podcidrOf(a.net)).gateway
      const p = await ping(b.netnsPath, gw, 1, 2)
      if (!p.ok) await failed(`sleep pod → gateway ${gw}: ${p.detail}`)
      return `${b.ip} → ${a.ip}:80 HTTP 200; ${b.ip} → ${gw} ICMP`
    },
  },
]

const PREFIX_HINT =
  'ip addr add "$addr/$prefix" dev "$CNI_IFNAME" ($prefix, the prefix of podcidr: ${podcidr#*/}), and the same "$addr/$prefix" in the result'

/** The pod's IPv4 addresses on CNI_IFNAME, as ADDR/PREFIX. */
async function ipv4On(pod: CheckPod): Promise<string[]> {
  return (
    (await addrs(pod.netnsName, pod.att.ifname))[0]?.addr_info
      .filter((x) => x.family === 'inet')
      .map((x) => `${x.local}/${x.prefixlen}`) ?? []
  )
}

/**
 * The result's address on CNI_IFNAME with another prefix than the result's or podcidr's: the line
 * naming the prefixes, or undefined when the prefixes agree (or the address is not there at all).
 */
function prefixProblem(
  pod: CheckPod,
  address: string,
  on: string[],
  podcidrPrefix: number,
  podcidr?: string,
): string | undefined {
  const [ip, prefix] = address.split('/')
  const there = on.find((x) => x.split('/')[0] === ip)
  if (!there) return undefined
  const onPrefix = Number(there.split('/')[1])
  if (onPrefix === podcidrPrefix && Number(prefix) === podcidrPrefix) return undefined
  const where = podcidr ? ` on a network with podcidr ${podcidr}` : ''
  return `${pod.att.ifname} carries ${there}${where}: prefix /${onPrefix} on the interface, /${prefix} in the result (${address}), /${podcidrPrefix} in podcidr`
}

/**
 * The hint for a failed first ADD: the cause the failure left evidence of (#cni/add-failure.js, as
 * `pod add` names it); else the check's own hint (stdout discipline) when stdout was the problem, or
 * how to read what the plugin said.
 */
async function addFailureHint(ctx: Lab1Context, a: CheckPod): Promise<string | undefined> {
  const named = await failedAddHint(a.outcome, a.att, {
    bridge: ctx.plugin.bridgeOf(a.net),
    onHostBefore: a.ifnameOnHostBefore,
  })
  if (named) return named
  const problem = a.outcome.problem ?? ''
  if (/stdout|JSON/.test(problem) && !/stderr: /.test(problem)) return undefined
  return `ADD failed before it printed a result: the plugin's own error and stderr above say which command failed; run that command by hand (ebpfcni pod add shows the same output)`
}

/**
 * What is wrong with a pod's place on the bridge, first fault first: its host end off the bridge or
 * down, the bridge down, the gateway address missing from it. Each with the hint for that fault and
 * the cause it establishes (a later check failing from it says "same cause as …"). Undefined when
 * the host end is up on an up bridge that has the gateway.
 */
async function bridgeFault(
  ctx: Lab1Context,
  pod: CheckPod,
): Promise<{message: string; hint: string; cause: CheckCause} | undefined> {
  const bridge = ctx.plugin.bridgeOf(pod.net)
  const c = cidrInfo(ctx.plugin.podcidrOf(pod.net))
  const host = await hostEnd(pod)
  if (!host)
    return {
      message: `cannot find the host end of pod ${pod.name}'s ${pod.att.ifname}: is it a veth pair with one end in the pod?`,
      hint: 'ip link add "$hostveth" type veth peer name "$CNI_IFNAME" netns "$CNI_NETNS": the host end stays on the host',
      cause: {key: 'bridge.port', summary: `a pod's host veth is not on ${bridge}, up`},
    }
  if (host.master !== bridge)
    return {
      message: `pod ${pod.name}'s host end ${host.ifname} is ${host.master ? `on ${host.master}` : 'not on any bridge'}; expected on ${bridge}`,
      hint: 'ip link set "$hostveth" master "$bridge" up, after the veth pair is made',
      cause: {
        key: 'bridge.port',
        summary: `a pod's host veth is not on ${bridge}: ip link set "$hostveth" master "$bridge" up`,
      },
    }
  if (!host.flags.includes('UP'))
    return {
      message: `pod ${pod.name}'s host end ${host.ifname} is down`,
      hint: 'ip link set "$hostveth" master "$bridge" up: the `up` brings the host end up',
      cause: {key: 'bridge.port', summary: `a pod's host veth is down: ip link set "$hostveth" master "$bridge" up`},
    }
  const br = await link(bridge)
  if (!br?.flags.includes('UP'))
    return {
      message: `bridge ${bridge} is down`,
      hint: 'ip link set "$bridge" up on every ADD, after the gateway is on it',
      cause: {key: 'bridge.down', summary: `bridge ${bridge} is down: ip link set "$bridge" up on every ADD`},
    }
  const on = (await addrs(undefined, bridge))[0]?.addr_info.map((x) => `${x.local}/${x.prefixlen}`) ?? []
  if (!on.includes(`${c.gateway}/${c.prefix}`))
    return {
      message: `bridge ${bridge} has ${on.join(', ') || 'no address'}; expected the gateway ${c.gateway}/${c.prefix}`,
      // Walked: "ip addr add … once, when you create the bridge" kept failing on a bridge an earlier run left.
      hint: `ip addr replace "$gateway/$prefix" dev "$bridge" on every ADD, after the bridge exists and outside the test that creates it: a bridge an earlier ADD or run left is there already, without the address (replace, unlike add, does not fail when it is there)`,
      cause: {
        key: 'bridge.gateway',
        summary: `the gateway ${c.gateway}/${c.prefix} is not on ${bridge}: ip addr replace "$gateway/$prefix" dev "$bridge" on every ADD`,
      },
    }
  return undefined
}
