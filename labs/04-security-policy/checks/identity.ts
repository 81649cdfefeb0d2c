import {fail, type CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {ipv4Udp} from '#bpf/frames.js'
import {resolve, type PolicyPod} from '#policy/resolve.js'
import {originalPolicy, Expect, requireMap, expectPath, withPretendPods} from './shared.js'

/** Step identity's checks (lab.yaml orders the run). */
export const IDENTITY_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  {
    id: 'policy.identity',
    cost: 'cheap',
    title:
      'identity design: per-endpoint rules grow with the label groups a pod admits, a new client pod adds no rule, and to_pod decides by identity',
    hint: 'Declare identity and endpoint_policy (ebpfcni_policy.h); in to_pod look up {.peer = identity_of(saddr), .endpoint = daddr} for every port, then with dport and proto.',
    run: async (ctx) => {
      await ctx.policy.toPodPin()
      await requireMap(ctx, ['endpoint_policy'], 'endpoint_policy map (without it, this is still the ip-pair design)')
      await ctx.policy.requireMapLayout()
      const svc = await ctx.policy.service()
      // 30 pretend pods in 3 label groups (maps only; the frames are test runs).
      const fakes: PolicyPod[] = Array.from({length: 30}, (_, i) => ({
        name: `fake-${i}`,
        ip: `10.251.0.${i + 1}`,
        labels: {app: ['httpbin', 'sleep', 'other'][i % 3]},
      }))
      return withPretendPods(ctx, fakes, [originalPolicy()], async () => {
        const cur = await ctx.policy.readMaps()
        const rules = cur.pairs.size + cur.portPairs.size
        const ipPair = resolve('ip-pair', fakes, [originalPolicy()], []).pairs.size
        const endpoints = cur.isolated.size
        if (cur.identities.size < fakes.length)
          fail(`identity holds ${cur.identities.size} addresses for ${fakes.length} pods`)
        if (rules > endpoints * 3)
          fail(
            `endpoint_policy holds ${rules} rules for ${endpoints} selected pods and 3 label groups (at most ${endpoints * 3})`,
          )
        // One more client pod: one identity entry, no rule.
        ctx.policy.podSource.add({name: 'fake-new-sleep', ip: '10.251.0.99', labels: {app: 'sleep'}})
        await svc.sync()
        const grown = await ctx.policy.readMaps()
        ctx.policy.podSource.remove('fake-new-sleep')
        if (grown.pairs.size + grown.portPairs.size !== rules)
          fail(
            `a new app=sleep pod changed the rule count from ${rules} to ${grown.pairs.size + grown.portPairs.size}: rules name identities, so a new pod of a known group needs none`,
          )
        const [httpbin, sleep, other] = [fakes[0].ip, fakes[1].ip, fakes[2].ip]
        const cases: Array<[string, Buffer, Expect]> = [
          [`app=sleep ${sleep} → app=httpbin ${httpbin}`, ipv4Udp(sleep, httpbin, 'x', 9, 43000), 'pass'],
          [
            `the new app=sleep 10.251.0.99 → app=httpbin ${httpbin}`,
            ipv4Udp('10.251.0.99', httpbin, 'x', 9, 43001),
            'drop',
          ],
          [`app=other ${other} → app=httpbin ${httpbin}`, ipv4Udp(other, httpbin, 'x', 9, 43002), 'drop'],
          [`unknown 10.251.1.1 → app=httpbin ${httpbin}`, ipv4Udp('10.251.1.1', httpbin, 'x', 9, 43003), 'drop'],
          [`app=other ${other} → app=sleep ${sleep}`, ipv4Udp(other, sleep, 'x', 9, 43004), 'pass'],
        ]
        // The new pod was removed again: its address is unknown now, so it is dropped like any stranger.
        await svc.sync()
        expectPath(ctx, cases)
        return `${fakes.length} pods: ${rules} per-endpoint rules where address pairs need ${ipPair}; a new client pod added 1 identity and no rule; verdicts by identity correct`
      })
    },
  },
]
