import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {originalPolicy, http, clientAndServer, requireMap, flowsDuring, flowsBetween, quoteFlows} from './shared.js'

// Step networkpolicy's flow events: what `ebpfcni observe` shows must be what the datapath did.
// The probes prove their own packets' fate (the pods' counters); the events must agree with it.

export const FLOW_EVENT_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  {
    id: 'policy.flow-events',
    title:
      'flow events tell the truth: a denied connection is DROPPED at to_pod (reason isolated, its policy named), allowed traffic FORWARDED, none lost',
    hint: 'Return each verdict through tc_drop(skb, REASON_…) / tc_pass(skb, REASON_…) (and xdp_drop / xdp_pass in xdp_prog) with the reason of the branch that decided; keep #include "ebpfcni_flow.h".',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await requireMap(
        ctx,
        ['flow_events'],
        'flow_events ring buffer',
        'keep #include "ebpfcni_flow.h" in ebpfcni.bpf.c: it declares the ring and the helpers that report each verdict',
      )
      const [httpbin, sleep] = await clientAndServer(ctx)
      const other = await ctx.policy.labelledPod('other', {})
      const svc = await ctx.policy.service()
      svc.store.putPolicy(originalPolicy())
      await svc.sync()
      const {result, seen} = await flowsDuring(ctx, async () => ({
        denied: await http(other, httpbin, false),
        allowed: await http(sleep, httpbin, true),
      }))
      if (!seen) fail('no flow_events ring could be read', 'keep #include "ebpfcni_flow.h"')
      if (result.denied.ok)
        throw new CheckSkip(
          `needs other → httpbin dropped first (${result.denied.detail}): policy.networkpolicy says why`,
        )
      const toHttpbin = flowsBetween(seen, other.ip, httpbin.ip)
      const drops = toHttpbin.filter((f) => f.verdict === 'DROPPED')
      if (!drops.length)
        fail(
          `${result.denied.detail}, but your programs reported no DROPPED event for it; for other → httpbin they reported: ${quoteFlows(toHttpbin)}`,
          'where a destination in isolated is dropped: return tc_drop(skb, REASON_ISOLATED); tc_drop reports the drop, TC_ACT_SHOT alone does not',
        )
      const wrong = drops.filter((f) => f.program !== 'to_pod' || f.reason !== 'isolated')
      if (wrong.length)
        fail(
          `other → httpbin (no rule admits an unlabelled pod) was reported as ${quoteFlows(wrong)}; expected to_pod DROPPED with reason isolated`,
          'the reason is the branch that decided: REASON_ISOLATED where the isolated lookup drops',
        )
      if (!drops[0].policy?.includes(originalPolicy().name))
        fail(
          `other → httpbin was dropped with reason isolated, but no policy was named (${quoteFlows(drops)}): is httpbin in isolated?`,
        )
      if (!result.allowed.ok) throw new CheckSkip(`needs sleep → httpbin to work (${result.allowed.detail})`)
      const admitted = flowsBetween(seen, sleep.ip, httpbin.ip).filter((f) => f.program === 'to_pod')
      if (!admitted.some((f) => f.verdict === 'FORWARDED' && f.reason === 'allowed'))
        fail(
          `sleep → httpbin got through, but to_pod reported ${quoteFlows(admitted)}; expected FORWARDED with reason allowed (httpbin-allow-sleep admits app=sleep on every port: a rule in policy)`,
          'where a rule for the pair passes: return tc_pass(skb, REASON_ALLOWED)',
        )
      if (seen.lost > 0n)
        fail(
          `${seen.lost} flow event(s) were lost while the check ran (the ring was full): events from other programs flooding flow_events?`,
        )
      return `other → httpbin: ${quoteFlows(drops, 1)}; sleep → httpbin FORWARDED at to_pod (allowed); ${seen.flows.length} events, 0 lost`
    },
  },
]
