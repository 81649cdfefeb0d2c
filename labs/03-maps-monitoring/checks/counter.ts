import {fail, type CheckCause, type CheckDefinition} from '#checks/engine.js'
import type {Lab3Context} from '../context.js'
import {lab2Check} from '../../02-ebpf-basics/checks/index.js'
import {isPerCpu, MAP_TYPES} from '#bpf/map-ops.js'
import {atomicAdds, decodeInsns, insertsNotLookedUpAgain, type UpdateFlag} from '#bpf/insns.js'
import {readCounterMap} from '#bpf/counters.js'
import {sendUdp} from '#net/probes.js'
import {UDP_COUNT, COUNT_SLACK, counterMapProblems, reversed, twoPods} from './shared.js'

/** Step counter's checks (lab.yaml orders the run). */
export const COUNTER_CHECKS: Array<CheckDefinition<Lab3Context>> = [
  lab2Check('bpf.compiles'),
  lab2Check('bpf.verifier-accepts'),
  {
    id: 'map.counter.pinned',
    cost: 'cheap',
    title: "a hash map named counter (4-byte key, 8-byte value) is pinned under the lab's pin directory",
    hint: 'struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16384); __type(key, __u32); __type(value, __u64); __uint(pinning, LIBBPF_PIN_BY_NAME); } counter SEC(".maps");',
    run: async (ctx) => {
      const d = await ctx.pinned.deployed()
      if (!d.maps.some((m) => m.name === 'counter'))
        fail(
          `your program has no map named counter${d.maps.length ? `; its maps: ${d.maps.map((m) => m.name).join(', ')}` : ' (it declares no maps)'}`,
        )
      const {info, problems} = counterMapProblems(ctx.pinned.counterPin())
      if (problems.length)
        fail(`${ctx.pinned.counterPin()}: ${problems.join('; ')}`, undefined, counterShapeCause(problems))
      return `${ctx.pinned.counterPin()}: ${MAP_TYPES[info.type]}, key ${info.keySize} B, value ${info.valueSize} B, max ${info.maxEntries} entries`
    },
  },
  {
    id: 'map.counter.atomic',
    cost: 'cheap',
    title: 'a counter shared by all CPUs is incremented atomically (or is per-CPU)',
    hint: '__sync_fetch_and_add(n, 1) compiles to one atomic add; *n += 1 is a load, an add and a store that another CPU can interleave with.',
    run: async (ctx) => {
      const {info} = await ctx.pinned.counters()
      if (isPerCpu(info.type)) return `${MAP_TYPES[info.type]}: each CPU adds to its own slot, no atomic needed`
      const adds = atomicAdds(decodeInsns(await ctx.pinned.instructions()))
      if (adds === 0)
        fail(
          `counter is a ${MAP_TYPES[info.type]} map shared by every CPU, but xdp_prog has no atomic add instruction: two CPUs counting the same source at once lose increments`,
        )
      return `${adds} atomic add instruction(s) in xdp_prog`
    },
  },
  {
    id: 'map.counter.first-packet',
    cost: 'cheap',
    title: "a new address's first packet counts even when two CPUs see it at once (insert 0, look up again, add)",
    hint: 'if (!n) { __u64 zero = 0; bpf_map_update_elem(&counter, &key, &zero, BPF_NOEXIST); n = bpf_map_lookup_elem(&counter, &key); if (!n) return XDP_PASS; } __sync_fetch_and_add(n, 1); (on a per-CPU map, *n += 1 is enough)',
    run: async (ctx) => {
      const {info} = await ctx.pinned.counters()
      const perCpu = isPerCpu(info.type)
      const inserts = insertsNotLookedUpAgain(decodeInsns(await ctx.pinned.instructions()))
      // On a per-CPU map an update of an existing key from a program writes only this CPU's slot:
      // a racing BPF_ANY insert of 1 adds this CPU's packet beside the other's, and loses nothing.
      const losing = inserts.filter((flag) => !(perCpu && flag === 'BPF_ANY'))
      if (losing.length)
        fail(
          `xdp_prog inserts a new key with bpf_map_update_elem and never looks it up again: ${raceLoss(losing[0], perCpu)}`,
        )
      if (inserts.length)
        return `xdp_prog inserts a new key with BPF_ANY and does not look it up again: on a per-CPU map a racing insert writes only its own CPU's slot, so no first packet is lost`
      return 'a new address is inserted as 0, looked up again and incremented: the losing CPU of a race still counts'
    },
  },
  {
    id: 'map.counter.counts',
    title: `sending exactly ${UDP_COUNT} UDP datagrams from pod A raises A's count by ${UDP_COUNT} (at most ${COUNT_SLACK} more)`,
    hint: 'Key by ip->saddr, unchanged (network byte order), and count every IPv4 packet once — first packet included.',
    run: async (ctx) => {
      const [a, b] = await twoPods(ctx)
      await ctx.pinned.counters()
      const before = readCounterMap(ctx.pinned.counterPin()).counts
      const sent = await sendUdp(a.netnsPath, b.ip, 9, UDP_COUNT)
      if (!sent.ok)
        fail(
          `pod A could not send: ${sent.detail}`,
          "this is about the pods, not the map: does lab 1's plugin still work?",
        )
      const after = readCounterMap(ctx.pinned.counterPin()).counts
      const delta = (ip: string): bigint => (after.get(ip) ?? 0n) - (before.get(ip) ?? 0n)
      const da = delta(a.ip)
      const seen = `A ${a.ip}: ${before.get(a.ip) ?? 'absent'} → ${after.get(a.ip) ?? 'absent'}`
      if (da >= BigInt(UDP_COUNT) && da <= BigInt(UDP_COUNT + COUNT_SLACK))
        return `${seen} (+${da} for ${UDP_COUNT} datagrams)`
      if (da === 0n && delta(reversed(a.ip)) >= BigInt(UDP_COUNT))
        fail(
          `A's packets were counted under ${reversed(a.ip)}: the key's bytes are reversed`,
          'use ip->saddr as it is; bpf_ntohl turns 10.10.0.5 into 5.0.10.10 when user space reads the key',
        )
      // Keyed by the destination, A's count still moves by what B sends back (walked: +6, ICMP), so A's
      // own count is no test of it: B's rising by the datagrams A sent is.
      if (da < BigInt(UDP_COUNT) && delta(b.ip) >= BigInt(UDP_COUNT))
        fail(
          `A's count rose by ${da} but B's (${b.ip}, the destination) by ${delta(b.ip)}, for ${UDP_COUNT} datagrams A sent to B: the map is keyed by the destination`,
          'the key is ip->saddr (who sent it), not ip->daddr',
        )
      if (da > BigInt(UDP_COUNT + COUNT_SLACK))
        fail(
          `${seen}: +${da} for ${UDP_COUNT} datagrams (at most ${UDP_COUNT + COUNT_SLACK} expected): packets are counted more than once`,
        )
      // Walked: an ARRAY counter fails here too; its hint (key, first packet) pointed away from the map's type.
      const shape = counterMapProblems(ctx.pinned.counterPin()).problems
      if (shape.length)
        fail(
          `${seen}: +${da} for ${UDP_COUNT} datagrams sent to ${b.ip}; the map itself is not the one the step asks for: ${shape[0]}`,
          undefined,
          counterShapeCause(shape),
        )
      return fail(
        `${seen}: +${da} for ${UDP_COUNT} datagrams sent to ${b.ip}`,
        da > 0n
          ? 'some packets were not counted: is the first packet of a new address counted too (insert 1, not 0)?'
          : undefined,
      )
    },
  },
]

/** What two CPUs inserting the same new address lose, by the flags the program passes (as seen in it). */
function raceLoss(flag: UpdateFlag | undefined, perCpu: boolean): string {
  const race = 'when two CPUs see the same new address at once, both find nothing and both insert'
  if (flag === 'BPF_NOEXIST')
    return `${race} with BPF_NOEXIST: one insert fails, and that packet is counted nowhere${perCpu ? ' (a per-CPU map does not help: the losing insert still fails)' : ''}`
  if (flag === 'BPF_ANY')
    return `${race} with BPF_ANY: the second insert replaces the first, and the first's packet (with any count added to it in between) is counted nowhere`
  if (flag === 'BPF_EXIST')
    return 'its update passes BPF_EXIST, which only replaces a key that is there: a new address is never inserted'
  return `${race}: one packet is lost (with BPF_NOEXIST the second insert fails; with BPF_ANY it replaces the first)`
}

/** One mistake in the map's declaration fails several checks: the first to see it names it for the rest. */
function counterShapeCause(problems: string[]): CheckCause {
  return {
    key: 'counter-map-shape',
    summary: `the counter map's declaration (${problems[0]}): declare it as step counter's hint shows, then rebuild and reload`,
  }
}
