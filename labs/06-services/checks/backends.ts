import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import type {Lab6Context} from '../context.js'
import type {AddressedPod} from '#checks/check-pods.js'
import type {ServiceAgent} from '../agent.js'
import {failures, synList} from './socket-lb.js'

// Step 2: the Service's backends kept current by the agent (ready-made controller, the learner's
// agent.mjs). Each check proves its own connections' fate: answered, by which pod, and the SYNs
// wire.bpf.c saw the client send, by destination.

const AFTER = 100

export const BACKENDS_CHECKS: Array<CheckDefinition<Lab6Context>> = [
  {
    id: 'services.backend-added',
    title: `a backend pod added while the Service is live gets connections: of ${AFTER} new ones, some go to it, all are answered`,
    hint: 'added() is ready-made: it writes the new slot first, then count + 1. If the new pod gets nothing, is your connect4 picking bpf_get_prandom_u32() % svc->count with the count it reads now (not a constant)?',
    run: async (ctx) => {
      const s = await ctx.ready()
      const service = s.services[0]
      const agent = await ctx.agent()
      // services.backend-deleted's second pod is made beside this one: its ADD is not waited for there.
      const [pod] = await Promise.all([ctx.addBackend('web-4'), ctx.spareBackend('web-5')])
      const {results, wire} = await ctx.requests(
        s.client,
        s.clientCgroup,
        {ip: service.clusterIP, port: service.port},
        AFTER,
      )
      const answered = results.filter((r) => r.ok)
      const toNew = answered.filter((r) => r.pod === pod.netnsName).length
      const count = agent.count()
      if (answered.length < AFTER)
        fail(
          `after pod web-4 (${pod.ip}) was added, ${answered.length} of ${results.length} requests were answered (${failures(results)}); count is ${count}, slots ${agent.slots(count)}; SYNs: ${synList(wire)}`,
        )
      // 1 in 4 of 100: fewer than 5 happens about once in a million runs of a fair pick.
      if (toNew < 5)
        fail(
          `all ${AFTER} answered, but the new backend web-4 (${pod.ip}) answered ${toNew}; count is ${count}, slots ${agent.slots(count)}`,
          'connect4 must pick among svc->count slots as the map holds them now: the agent wrote slot 3 and count 4.',
        )
      return `pod web-4 (${pod.ip}) added: count ${count}; of ${AFTER} new requests it answered ${toNew}, all answered`
    },
  },
  {
    id: 'services.backend-deleted',
    title: `a backend pod deleted while the Service is live: the next ${AFTER} new connections all succeed, and none goes to the deleted address`,
    hint: 'deleted(svc, slots, slot): slots.set(slot, slots.get(svc.count - 1)); then svc.count = svc.count - 1; then slots.delete(old last): slots 0..count-1 must all hold live backends, because connect4 picks any of them.',
    run: async (ctx) => {
      const agent = await ctx.agent()
      // The step's own pods, so the Service ends as it began (web-1..3) for the checks after it:
      // web-4 is deleted from a slot that is not the last (web-5 holds that), then web-5 goes too.
      const gone = await ctx.addBackend('web-4')
      const extra = await ctx.addBackend('web-5')
      try {
        return await deletedCheck(ctx, agent, gone)
      } finally {
        await ctx.deleteBackend(extra).catch(() => undefined)
      }
    },
  },
]

/** Delete `gone` (a backend not in the last slot) and prove the next connections' fate. */
async function deletedCheck(ctx: Lab6Context, agent: ServiceAgent, gone: AddressedPod): Promise<string> {
  const s = await ctx.ready()
  const service = s.services[0]
  const before = agent.count()
  const slot = await ctx.deleteBackend(gone)
  const count = agent.count()
  const {results, wire} = await ctx.requests(
    s.client,
    s.clientCgroup,
    {ip: service.clusterIP, port: service.port},
    AFTER,
  )
  const answered = results.filter((r) => r.ok).length
  const toGone = [...wire.syns].filter(([d]) => d.split(':')[0] === gone.ip).reduce((n, [, v]) => n + v, 0n)
  const toVip = wire.toVip.get(service.clusterIP) ?? 0n
  const seen = `after pod ${gone.name} (${gone.ip}, slot ${slot}) was deleted, ${answered} of ${results.length} new requests were answered (${failures(results) || 'no failure'}); count went ${before} → ${count}, slots ${agent.slots(Math.max(count, before))}`
  const stale = agent
    .slotList(count)
    .map((b, n) => (b?.ip === gone.ip ? n : -1))
    .filter((n) => n >= 0)
  if (toGone > 0n || stale.length)
    fail(
      `${seen}; ${toGone} SYNs went to the deleted pod's address ${gone.ip}: the stale backend was kept${stale.length ? ` in slot ${stale.join(', ')}, below count, where` : ' where'} connect4 still picks it`,
      `the deleted pod's slot ${slot} still holds ${gone.ip}: in deleted(), move the last slot's backend into slot ${slot} before making count one less (only the last slot falls out of reach when count shrinks).`,
    )
  if (count !== before - 1)
    fail(
      `${seen}: count should be ${before - 1}`,
      count === before
        ? 'deleted() must make svc.count one less: with the old count, connect4 still picks the last slot, which you deleted (its lookup misses and the connect goes on to the VIP).'
        : `deleted() must make svc.count exactly one less (${before - 1}).`,
    )
  if (toVip > 0n)
    fail(
      `${seen}; ${toVip} packets left addressed to the VIP: a slot below count held no backend`,
      'slots 0..count-1 must all be written: set the freed slot before deleting the last one.',
    )
  if (answered < AFTER) fail(seen)
  if (wire.syns.size === 0) throw new CheckSkip(`saw no SYN for ${results.length} requests`)
  return `pod ${gone.name} (${gone.ip}) deleted from slot ${slot}: count ${before} → ${count}; all ${AFTER} new requests answered, 0 SYNs to ${gone.ip} (${synList(wire)})`
}
