import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {nsExecArgs, sendUdp} from '#net/probes.js'
import {run, ok, describeRun} from '#host/exec.js'
import {addressed} from '#checks/check-pods.js'
import {
  originalPolicy,
  clientAndServer,
  requireMap,
  spoofFlows,
  sleepCount,
  arrivedDuring,
  flowsDuring,
  flowsBetween,
  quoteFlows,
  UDP_PROBES,
  alongside,
} from './shared.js'

/** Step spoofing's checks (lab.yaml orders the run). */
export const SPOOFING_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  {
    id: 'policy.source-validation',
    title: "a pod that sends from another pod's address is dropped at its own veth; its real address still works",
    hint: 'In xdp_prog: look up ctx->ingress_ifindex in endpoints; when there is an entry and ip->saddr is not it, return xdp_drop(ctx, REASON_INVALID_SOURCE).',
    run: async (ctx) => {
      await requireMap(
        ctx,
        ['endpoints'],
        'endpoints map',
        'declare a pinned hash endpoints: key __u32 ifindex, value __u32 address (the agent fills it)',
      )
      // A pod the agent does not know (made by this check, never given to the policy layer), made
      // beside the others: its veth has no endpoints entry, and the step says such a veth is not judged.
      const [[a, b], other, stranger] = await alongside(
        clientAndServer(ctx),
        ctx.policy.labelledPod('other', {}),
        ctx.plugin.trafficPod('stranger'),
      )
      const svc = await ctx.policy.service()
      svc.store.putPolicy(originalPolicy())
      await svc.sync()
      // The attacker: the unlabelled pod borrows sleep's address, which httpbin admits.
      const inOther = (cmd: string[]) => run(...nsExecArgs(other.netnsPath, cmd), {timeoutMs: 5000})
      const steps = [
        ['ip', 'addr', 'add', `${b.ip}/32`, 'dev', 'eth0', 'noprefixroute'],
        ['ip', 'route', 'add', `${a.ip}/32`, 'dev', 'eth0', 'src', b.ip],
      ]
      for (const st of steps) {
        const r = await inOther(st)
        if (!ok(r))
          throw new CheckSkip(`could not set up the spoof attempt in pod other (${st.join(' ')}: ${describeRun(r)})`)
      }
      // What a spoofed packet must not leave behind: a flow in sleep's name, a count under sleep's address.
      const flowsBefore = new Set(spoofFlows(ctx, b.ip, a.ip).map((k) => k.toString('hex')))
      const countBefore = sleepCount(ctx, b.ip)
      try {
        const dropsBefore = ctx.policy.drops()
        const {result: spoofed, seen} = await flowsDuring(ctx, () =>
          arrivedDuring(a, () => sendUdp(other.netnsPath, a.ip, 9999, UDP_PROBES)),
        )
        const dropsAfter = ctx.policy.drops()
        const made = spoofFlows(ctx, b.ip, a.ip).filter((k) => !flowsBefore.has(k.toString('hex')))
        const counted = sleepCount(ctx, b.ip) - countBefore
        if (spoofed.udp > 0) {
          const entry = [...(await ctx.policy.readMaps()).endpoints].find(([, ip]) => ip === other.ip)
          const known = entry
            ? `endpoints[${entry[0]}] = ${entry[1]} (other's veth)`
            : `endpoints has no entry for other's veth`
          fail(
            `${spoofed.udp} of ${UDP_PROBES} datagrams the unlabelled pod ${other.ip} sent as sleep (${b.ip}) reached httpbin ${a.ip}; ${known}`,
            "the packet arrived on other's veth: in xdp_prog, its source must be endpoints[ctx->ingress_ifindex]",
          )
        }
        if (made.length)
          fail(
            `the spoofed datagrams were dropped, but after conntrack recorded them: ${made.length} flow(s) ${b.ip} → ${a.ip} UDP 9999 appeared in sleep's name, so httpbin's "replies" to sleep would pass`,
            'validate the source first in xdp_prog, before counting or recording anything',
          )
        if (counted >= BigInt(UDP_PROBES))
          fail(
            `the spoofed datagrams were dropped, but counted first: sleep's count (${b.ip}) rose by ${counted} while only the unlabelled pod sent, as sleep`,
            'validate the source first in xdp_prog, before counting or recording anything',
          )
        if (dropsAfter - dropsBefore < BigInt(UDP_PROBES))
          fail(
            `the spoofed datagrams did not arrive, but drops rose by ${dropsAfter - dropsBefore}, not ${UDP_PROBES}: were they dropped by xdp_prog, counted?`,
          )
        const spoofFlowEvents = flowsBetween(seen, b.ip, a.ip)
        if (seen && !spoofFlowEvents.some((f) => f.verdict === 'DROPPED' && f.reason === 'invalid-source'))
          fail(
            `the spoofed datagrams were dropped, but no flow event said why: for ${b.ip} → ${a.ip} your programs reported ${quoteFlows(spoofFlowEvents)}`,
            'return xdp_drop(ctx, REASON_INVALID_SOURCE): observe then shows each spoofed packet with its reason',
          )
      } finally {
        await inOther(['ip', 'route', 'del', `${a.ip}/32`])
        await inOther(['ip', 'addr', 'del', `${b.ip}/32`, 'dev', 'eth0'])
        // ARP is not IPv4, so xdp_prog passed other's "who has httpbin? tell <sleep's address>": httpbin
        // now sends sleep's replies to other's MAC. Forget that entry, or the next check's HTTP fails.
        // The stranger too: it was on the bridge when other asked.
        await Promise.all([
          ...[a, b, other, stranger]
            .filter((pod) => pod.netnsPath)
            .map((pod) => run(...nsExecArgs(pod.netnsPath, ['ip', 'neigh', 'flush', 'to', b.ip]), {timeoutMs: 5000})),
          run('ip', ['neigh', 'flush', 'to', b.ip], {timeoutMs: 5000}),
        ])
      }
      const honest = await arrivedDuring(b, () => sendUdp(other.netnsPath, b.ip, 9999, UDP_PROBES))
      if (honest.udp < UDP_PROBES)
        fail(
          `from its own address, the unlabelled pod's datagrams to sleep (not isolated) arrived ${honest.udp} of ${UDP_PROBES}`,
          "drop only a source that is not the pod's own",
        )
      if (!stranger.outcome.ok || !addressed(stranger))
        throw new CheckSkip(`needs a pod the agent does not know (${stranger.outcome.problem ?? 'no address'})`)
      if ([...(await ctx.policy.readMaps()).endpoints.values()].includes(stranger.ip))
        throw new CheckSkip(`the pod ${stranger.ip} meant to be unknown has an endpoints entry`)
      const {result: unknown, seen: unknownSeen} = await flowsDuring(ctx, () =>
        arrivedDuring(b, () => sendUdp(stranger.netnsPath, b.ip, 9999, UDP_PROBES)),
      )
      if (unknown.udp < UDP_PROBES)
        fail(
          `from a pod the agent does not know yet (${stranger.ip}: its veth has no endpoints entry), ${unknown.udp} of ${UDP_PROBES} datagrams to sleep (not isolated) arrived; your programs reported ${quoteFlows(flowsBetween(unknownSeen, stranger.ip, b.ip))}`,
          'a veth with no endpoints entry is not judged: drop only when there is an entry and the source differs, if (own && *own != ip->saddr). A pod the agent has not written yet must not lose its traffic.',
        )
      return `spoofed as sleep: 0 of ${UDP_PROBES} reached httpbin, all counted as drops; from its own address all ${UDP_PROBES} reached sleep, and all ${UDP_PROBES} from a pod with no endpoints entry`
    },
  },
]
