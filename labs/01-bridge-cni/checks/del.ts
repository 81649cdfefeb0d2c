import {run} from '#host/exec.js'
import {CheckSkip, fail, type CheckDefinition} from '#checks/engine.js'
import {type Lab1Context} from '../context.js'
import {delWhenGone} from '#checks/cni-assertions.js'
import {cidrInfo} from '#net/ipv4.js'
import {DEL_WITHOUT_NETNS_HINT, delProblem, delWithoutNetnsProblem} from './shared.js'

/** Step del's checks (lab.yaml orders the run). */
export const DEL_CHECKS: Array<CheckDefinition<Lab1Context>> = [
  {
    id: 'cni.check',
    title: 'CHECK passes on a healthy pod and fails once its address, or its default route, is removed',
    hint: 'On CHECK read .prevResult.ips[0].address and verify the interface, the address and the default route inside the pod; print an error JSON and exit 1 when something is missing.',
    run: async (ctx) => {
      const net = ctx.plugin.learnerNet()
      if (net.cniVersion.startsWith('0.3')) throw new CheckSkip(`CHECK does not exist in cniVersion ${net.cniVersion}`)
      // A pod of its own, not the traffic pods: it is broken and mended here, and a step run makes no
      // second pod nor an httpbin it never probes.
      const b = await ctx.pods.attach(net, 'check')
      if (!b.outcome.ok || !b.outcome.result)
        throw new CheckSkip('needs a successful ADD (cni.add.succeeds, cni.add.result-schema)')
      const healthy = await ctx.pods.check(b, 'CHECK of a healthy pod')
      if (!healthy.ok) fail(`CHECK on a healthy pod failed: ${healthy.problem}`)
      const addr = b.outcome.result.ips?.[0]?.address
      const gateway = cidrInfo(ctx.plugin.podcidrOf(b.net)).gateway
      await run('ip', ['-n', b.netnsName, 'addr', 'del', String(addr), 'dev', b.att.ifname], {timeoutMs: 5000})
      const broken = await ctx.pods.check(b, 'CHECK of a broken pod')
      // The address back, the default route alone gone: CHECK must see that too (the text says it verifies
      // both). The kernel took the route with the pod's only address; the `route del` makes sure (-force:
      // one batch, whatever that line finds).
      await run('ip', ['-n', b.netnsName, '-force', '-batch', '-'], {
        input: `addr add ${String(addr)} dev ${b.att.ifname}\nroute del default\n`,
        timeoutMs: 5000,
      })
      if (broken.ok) fail(`CHECK passed after ${addr} was removed from ${b.att.ifname}; it must verify the address`)
      const error = broken.calls.at(-1)?.error
      if (!error) fail(`CHECK after removing the address failed without an error JSON: ${broken.problem}`)
      const noRoute = await ctx.pods.check(b, 'CHECK of a pod without its default route')
      await run('ip', ['-n', b.netnsName, 'route', 'replace', 'default', 'via', gateway], {timeoutMs: 5000})
      if (noRoute.ok)
        fail(
          `CHECK passed after the pod's default route via ${gateway} was removed (its address was there); it must verify the route`,
          `in CHECK, inside the pod: ip -4 route show default | grep -qF "via $gateway" || error 100 "no default route via $gateway in the pod"`,
        )
      return `healthy: pass; address removed: ${error.msg}; default route removed: ${noRoute.calls.at(-1)?.error?.msg ?? noRoute.problem}`
    },
  },
  {
    id: 'cni.del.idempotent',
    title: 'DEL succeeds twice, after the netns is gone, and with CNI_NETNS empty',
    hint: 'DEL must not fail when things are already gone: `ip link del … 2>/dev/null || true`, and never require CNI_NETNS to exist on DEL.',
    run: async (ctx) => {
      const net = ctx.plugin.checkNet('idem')
      // DEL with CNI_NETNS empty names no pod of this network: it runs beside the rest, judged last.
      const noNetnsRun = delWithoutNetnsProblem(ctx)
      noNetnsRun.catch(() => undefined)
      try {
        ctx.pods.warmNetns(2) // the pod here, and delWhenGone's
        const p = await ctx.pods.attach(net, 'idem')
        if (!p.outcome.ok) throw new CheckSkip(`needs a successful ADD (${p.outcome.problem})`)
        const first = await ctx.pods.detach(p, {keepNetns: true})
        if (!first.ok) fail(delProblem('the first DEL', first.problem))
        const gone = await delWhenGone(ctx.pods, net, p, 'gone')
        if (gone.second)
          fail(
            delProblem('a second DEL of the same pod', gone.second),
            'the spec requires DEL to succeed when the resources are already gone: the first DEL took the veth, so the second must not fail on it: ip link del "$hostveth" >/dev/null 2>&1 || true',
          )
        if (gone.skipped) throw new CheckSkip(gone.skipped)
        if (gone.netnsGone)
          fail(
            delProblem("DEL after the pod's netns was deleted", gone.netnsGone),
            'the runtime may call DEL after the netns is gone; skip the netns work and still release the address',
          )
        // The step's own code can break what step 1 checked: a netns test written into DEL's branch.
        const noNetns = await noNetnsRun
        if (noNetns) fail(noNetns, DEL_WITHOUT_NETNS_HINT)
        const note = first.calls.find((c) => c.note)?.note
        return `DEL twice: ok; DEL after the netns is gone: ok; DEL with CNI_NETNS empty: ok${note ? `. Note: ${note}` : ''}`
      } finally {
        await noNetnsRun.catch(() => undefined)
      }
    },
  },
]
