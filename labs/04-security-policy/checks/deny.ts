import {fail, CheckSkip, type CheckCause, type CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {lab2Check} from '../../02-ebpf-basics/checks/index.js'
import {arp, ipv4Udp} from '#bpf/frames.js'
import {http, clientAndServer, Expect, requireMap, expectPath, withPretendPods} from './shared.js'

/** The deny list lets a denied pair's frame through xdp_prog: the real probes after fail from it too. */
const DENIED_PASSES: CheckCause = {
  key: 'deny-frame-passes',
  summary:
    'xdp_prog lets a crafted frame of the denied pair through: look `pair` up in policy and return xdp_drop(ctx, REASON_DENIED) on POLICY_DENY',
}

/** An address with its bytes reversed: where a key built with bpf_ntohl() puts it. */
const swapped = (ip: string): string => ip.split('.').reverse().join('.')

const compiles = lab2Check<Lab4Context>('bpf.compiles')

/** Step deny's checks (lab.yaml orders the run). */
export const DENY_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  {
    ...compiles,
    // Every lab 4 step that compiles runs bpf.verifier-accepts next, which builds the source again
    // (every XDP_PASS marked): that second clang runs beside the first, not after it.
    run: (ctx) => {
      ctx.program.verdictProbe().catch(() => undefined)
      return compiles.run(ctx)
    },
  },
  lab2Check('bpf.verifier-accepts'),
  {
    id: 'policy.test-run',
    cost: 'cheap',
    title: 'crafted frames: a denied pair is dropped; its reverse, other pairs and ARP pass',
    hint: 'Look up struct ip_pair {saddr, daddr} exactly as in the packet (network order, this direction only); drop only on POLICY_DENY.',
    run: async (ctx) => {
      await requireMap(
        ctx,
        ['policy', 'endpoint_policy'],
        'policy map (ebpfcni_policy.h: key struct ip_pair, value __u32)',
      )
      await ctx.policy.requireMapLayout()
      // Two pretend pods (no netns needed: the frames never leave the test run).
      const x = {name: 'test-x', ip: '10.250.0.1', labels: {t: 'x'}}
      const y = {name: 'test-y', ip: '10.250.0.2', labels: {t: 'y'}}
      return withPretendPods(
        ctx,
        [x, y],
        [],
        async () => {
          const cases: Array<[string, Buffer, Expect]> = [
            [`denied ${x.ip} → ${y.ip}`, ipv4Udp(x.ip, y.ip), 'drop'],
            [`reverse ${y.ip} → ${x.ip}`, ipv4Udp(y.ip, x.ip), 'pass'],
            [`unrelated ${x.ip} → 10.250.0.3`, ipv4Udp(x.ip, '10.250.0.3'), 'pass'],
            ['ARP', arp(), 'pass'],
          ]
          // The denied frame passed: say whether a rule for the pair's addresses byte-swapped drops
          // it (the key was built in host order), not only that it passed.
          const [denied] = ctx.policy.path([cases[0][1]])
          if (!denied.dropped) {
            const what = `denied ${x.ip} → ${y.ip}: passed, expected a drop`
            const hostOrder = await withPretendPods(ctx, [], [], () => ctx.policy.path([cases[0][1]])[0].dropped, [
              {from: swapped(x.ip), to: swapped(y.ip), verdict: 'deny'},
            ])
            if (hostOrder)
              fail(
                `${what}; with a rule for ${swapped(x.ip)} → ${swapped(y.ip)} (the same addresses, bytes reversed) it was dropped: your key is in host byte order`,
                'build pair from ip->saddr and ip->daddr as they are (network order): no bpf_ntohl(). ebpfcni bpf maps policy shows the keys user space writes',
                DENIED_PASSES,
              )
            fail(what, undefined, DENIED_PASSES)
          }
          expectPath(ctx, cases)
          // Step 1 is xdp_prog's: a to_pod that drops the pair later must not pass for it (the
          // identity design moves the deny list to to_pod on purpose).
          const deny = ctx.policy.testRunDeny(ipv4Udp(x.ip, y.ip), 1)
          if (!deny.dropped)
            fail(
              `the denied ${x.ip} → ${y.ip} frame got ${deny.verdict} from ${deny.program}: the deny list is ${deny.program}'s${deny.program === 'xdp_prog' ? ', at the sender (to_pod dropping it later does not count for this step)' : ''}`,
              undefined,
              DENIED_PASSES,
            )
          return `${cases.length} frames: the denied pair dropped by ${deny.program}, the rest passed`
        },
        [{from: x.name, to: y.name, verdict: 'deny'}],
      )
    },
  },
  {
    id: 'policy.deny-drops',
    title: 'after `policy deny sleep httpbin`, sleep → httpbin HTTP is dropped, and each drop is counted in drops[0]',
    hint: 'On POLICY_DENY: return xdp_drop(ctx, REASON_DENIED), which adds one to drops[0] (a per-CPU array) and returns XDP_DROP.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      await svc.setRule('deny', 'sleep', 'httpbin')
      // The counter is the host's: other pods' drops (IPv6 chatter at to_pod) raise it too. So the
      // proof is test runs of this very frame: N runs must raise it by at least N.
      const runs = 100
      const before = ctx.policy.drops()
      const deny = ctx.policy.testRunDeny(ipv4Udp(b.ip, a.ip), runs)
      const rose = ctx.policy.drops() - before
      // Dropped uncounted is proven by the test runs alone: no pod request is needed to say so, and
      // a drop returned without xdp_drop is reported by no event either, so the request's fate
      // would take a SYN retransmission (over 1 s) to prove.
      if (deny.dropped && rose < BigInt(runs))
        fail(
          `${runs} test runs of ${deny.program} on a denied sleep → httpbin frame (verdict ${deny.verdict}) raised drops[0] by ${rose}: it drops without counting`,
          'return xdp_drop(ctx, REASON_DENIED) on POLICY_DENY: it adds one to drops[0] before returning XDP_DROP',
        )
      const r = await http(b, a, false, ctx)
      // The deny list's program passes this pair's frame itself: that is the cause, whatever the pods saw.
      if (!deny.dropped)
        fail(
          `after the deny rule for sleep → httpbin, sleep's request was ${r.ok ? 'not dropped' : 'dropped, but not by the deny list'}: ${deny.program} passed a crafted sleep → httpbin frame (${deny.verdict}). ${r.detail}`,
          `on POLICY_DENY for pair, return xdp_drop(ctx, REASON_DENIED) in ${deny.program}`,
          DENIED_PASSES,
          `${deny.program} passed a crafted sleep → httpbin frame (${deny.verdict}) with the deny rule in place`,
        )
      if (r.ok) fail(`after the deny rule for sleep → httpbin, sleep's request was not dropped: ${r.detail}`)
      return `dropped (${r.detail}); ${runs} test runs of the denied frame raised drops[0] by ${rose} (the host's counter, shared by every pod)`
    },
  },
  {
    id: 'policy.allow-passes',
    title: 'an ALLOW rule for the pair lets sleep → httpbin through again',
    hint: 'Only POLICY_DENY drops: a POLICY_ALLOW entry must pass.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      await svc.setRule('deny', 'sleep', 'httpbin')
      await svc.setRule('allow', 'sleep', 'httpbin')
      const r = await http(b, a, true, ctx)
      if (!r.ok) fail(`with an ALLOW rule for sleep → httpbin: ${r.detail}`)
      return `${b.ip} → ${a.ip} HTTP 200 with an ALLOW rule`
    },
  },
  {
    id: 'policy.remove-restores',
    title: 'removing the deny rule restores sleep → httpbin, and leaves no entry for the pair',
    hint: 'The program must not remember a verdict: it looks the pair up on every packet.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy.service()
      await svc.setRule('deny', 'sleep', 'httpbin')
      const denied = await http(b, a, false, ctx)
      if (denied.ok) throw new CheckSkip('needs deny to work first (policy.deny-drops)')
      await svc.removeRule('sleep', 'httpbin')
      const r = await http(b, a, true, ctx)
      if (!r.ok) fail(`after removing the rule: ${r.detail}`)
      const left = [...(await ctx.policy.readMaps()).pairs.keys()].filter((k) => k.includes(a.ip) && k.includes(b.ip))
      if (left.length) fail(`the rule is gone from the store but the map still holds ${left.join(', ')}`)
      return `${b.ip} → ${a.ip} HTTP 200 again; no entry left`
    },
  },
]
