import {existsSync, readFileSync} from 'node:fs'
import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import {run, ok} from '#host/exec.js'
import {connectingTo} from '#net/sockets.js'
import type {Lab6Context} from '../context.js'
import type {RequestResult} from '../client.js'
import type {WireCounts} from '../wire.js'

// Step 1: connect4. Each check proves its own connections' fate: the client's requests to the VIP
// (answered, and by which backend), and what wire.bpf.c saw the client send on its host veth.

const REQUESTS = 300
const SPREAD = 30
/** services.scope's connects from the pod outside the pods' cgroup. */
const SCOPE_CONNECTS = 3

/** "3 × ECONNREFUSED, 2 × ETIMEDOUT": the failures, most common first. */
export function failures(results: RequestResult[]): string {
  const by = new Map<string, number>()
  for (const r of results) if (!r.ok) by.set(r.error ?? 'no 200', (by.get(r.error ?? 'no 200') ?? 0) + 1)
  return [...by]
    .sort((a, b) => b[1] - a[1])
    .map(([e, n]) => `${n} × ${e}`)
    .join(', ')
}

/** The SYNs the client sent, as "ip:port × n", most first. */
export const synList = (w: WireCounts): string =>
  [...w.syns]
    .sort((a, b) => Number(b[1] - a[1]))
    .slice(0, 4)
    .map(([d, n]) => `${d} × ${n}`)
    .join(', ') || 'none'

const swapped = (port: number): number => ((port & 0xff) << 8) | (port >> 8)

/** The port of a SYN that went to a backend's address at another port than targetPort: connect4 rewrote in time, with the wrong port. */
function backendOffPort(w: WireCounts, backends: ReadonlyArray<{ip: string}>, targetPort: number): number | undefined {
  const ips = new Set(backends.map((b) => b.ip))
  const to = [...w.syns.keys()].find((d) => ips.has(d.split(':')[0]) && d.split(':')[1] !== String(targetPort))
  return to === undefined ? undefined : Number(to.split(':')[1])
}

export const SOCKET_LB_CHECKS: Array<CheckDefinition<Lab6Context>> = [
  {
    id: 'services.loads',
    title: "services.bpf.c compiles, the verifier accepts its programs, and connect4 attaches to the pods' cgroup",
    hint: 'SEC("cgroup/connect4") int connect4(struct bpf_sock_addr *ctx): every pointer a lookup returns is checked for NULL before use; return 1 lets connect() go on.',
    cost: 'cheap',
    run: async (ctx) => {
      await ctx.program()
      const s = await ctx.loaded()
      return `connect4 is attached (cgroup/connect4) to ${s.attachedTo}; the maps hold ${s.services.length} Services from service.yaml`
    },
  },
  {
    id: 'services.spread',
    title: `${REQUESTS} HTTP requests from a client pod to the VIP all succeed, spread ${REQUESTS / 3} ± ${SPREAD} over 3 backends`,
    hint: 'Look the Service up with {.vip = ctx->user_ip4, .port = (__u16)ctx->user_port}, pick slot bpf_get_prandom_u32() % svc->count, then ctx->user_ip4 = be->ip; ctx->user_port = be->port; (both already in network byte order).',
    run: async (ctx) => {
      const {results, wire, service} = await ctx.spread()
      const s = await ctx.ready()
      const vip = `${service.clusterIP}:${service.port}`
      const answered = results.filter((r) => r.ok)
      if (answered.length < REQUESTS) {
        const toVip = wire.toVip.get(service.clusterIP) ?? 0n
        const wrongPort = backendOffPort(wire, s.backends, service.targetPort)
        const seen = `${answered.length} of ${results.length} requests to ${vip} answered (${failures(results)}); the client's SYNs went to ${synList(wire)}`
        if (wrongPort === swapped(service.targetPort))
          fail(
            `${seen}: port ${wrongPort} is ${service.targetPort} with its two bytes swapped`,
            'ctx->user_port and the backends map both hold the port in network byte order: write be->port as it is, with no bpf_htons() (nor bpf_ntohs()).',
          )
        if (wrongPort !== undefined)
          fail(
            `${seen}: a backend, but not at the Service's targetPort ${service.targetPort}`,
            "ctx->user_port = be->port; the backend's port is the targetPort ebpfcni wrote.",
          )
        if (toVip > 0n)
          fail(
            `${seen}: ${toVip} packets left the client still addressed to the VIP ${service.clusterIP} (no route leads there): connect() was not rewritten`,
            'connect4 must find the Service (key {ctx->user_ip4, (__u16)ctx->user_port}, pad 0) and write a backend into ctx->user_ip4 and ctx->user_port, then return 1.',
          )
        fail(seen)
      }
      // 100 ± 30 is 3.7 standard deviations of a fair pick: a fair program misses it about once in
      // a thousand runs. Then 300 more decide (a program that does not spread misses both).
      const spreadOf = (rs: RequestResult[]) => {
        const byPod = new Map<string, number>(s.backends.map((b) => [b.netnsName, 0]))
        for (const r of rs) if (r.ok && r.pod) byPod.set(r.pod, (byPod.get(r.pod) ?? 0) + 1)
        const counts = s.backends.map((b, i) => `web-${i + 1} ${byPod.get(b.netnsName) ?? 0}`).join(', ')
        const off = s.backends.some((b) => Math.abs((byPod.get(b.netnsName) ?? 0) - REQUESTS / 3) > SPREAD)
        return {counts, off}
      }
      let spread = spreadOf(results)
      if (spread.off) {
        const first = spread.counts
        const again = await ctx.requests(
          s.client,
          s.clientCgroup,
          {ip: service.clusterIP, port: service.port},
          REQUESTS,
        )
        spread = spreadOf(again.results)
        if (spread.off)
          fail(
            `all ${REQUESTS} answered, but not spread: ${first}, then ${spread.counts} (each should get ${REQUESTS / 3} ± ${SPREAD})`,
            'Pick the slot anew for every connect: bpf_get_prandom_u32() % svc->count, and look up backends with {svc->id, slot}.',
          )
      }
      return `all ${REQUESTS} requests to ${vip} answered: ${spread.counts}`
    },
  },
  {
    id: 'services.not-on-wire',
    title:
      "the VIP never appears on the wire: 0 packets addressed to it on the client's host veth, every SYN to a backend",
    hint: 'Rewrite the address in connect4 (before any packet exists), not later: no packet of the client may carry the VIP.',
    run: async (ctx) => {
      const {results, wire, service} = await ctx.spread()
      const s = await ctx.ready()
      const toVip = wire.toVip.get(service.clusterIP) ?? 0n
      if (toVip > 0n)
        fail(
          `during the ${results.length} requests, ${toVip} packets on the client's host veth were addressed to the VIP ${service.clusterIP}; SYNs: ${synList(wire)}`,
        )
      const targets = new Set(s.backends.map((b) => `${b.ip}:${service.targetPort}`))
      let total = 0n
      let toBackend = 0n
      for (const [d, n] of wire.syns) {
        total += n
        if (targets.has(d)) toBackend += n
      }
      if (total < BigInt(results.length))
        throw new CheckSkip(`saw ${total} SYNs for ${results.length} requests (services.spread)`)
      if (toBackend !== total) {
        // A backend's address at another port: connect4 rewrote in time, and the port is the mistake.
        const port = backendOffPort(wire, s.backends, service.targetPort)
        if (port !== undefined) {
          fail(
            `${total - toBackend} of ${total} SYNs went to a backend's address but not to the Service's targetPort ${service.targetPort}${port === swapped(service.targetPort) ? ` (port ${port} is ${service.targetPort} with its two bytes swapped)` : ''}: ${synList(wire)}`,
            'connect4 rewrote the address before any packet existed, as it should; the port is the mistake: ctx->user_port = be->port, as it is (both in network byte order).',
          )
        }
        fail(`${total - toBackend} of ${total} SYNs carried no backend's address: ${synList(wire)}`)
      }
      return `0 packets addressed to ${service.clusterIP}; all ${total} SYNs carried a backend's address (${synList(wire)})`
    },
  },
  {
    id: 'services.translations',
    title:
      "each connect to the VIP is reported: one TRANSLATED flow event per request (VIP:80 => the backend its SYN went to), from the client's cgroup",
    hint: 'After the rewrite, before return 1: emit_translated(ctx, key.vip, key.port); (ebpfcni_flow.h: it reads the backend from ctx, and the socket\'s cgroup itself). Keep #include "ebpfcni_flow.h".',
    run: async (ctx) => {
      const {results, wire, service, translations} = await ctx.spread()
      const vip = `${service.clusterIP}:${service.port}`
      if (!translations.events)
        fail(
          `no flow_events ring could be read (${translations.why ?? 'unknown'})`,
          'keep #include "ebpfcni_flow.h" in services.bpf.c: it declares the ring (pinned by name, as lab 4\'s) and emit_translated()',
        )
      if (translations.lost > 0n)
        throw new CheckSkip(`${translations.lost} event(s) were lost (the ring was full): run it again`)
      const events = translations.events
      const answered = results.filter((r) => r.ok).length
      if (events.length === 0)
        fail(
          `the ${results.length} connects to ${vip} (${answered} answered) raised no TRANSLATED event from the client's cgroup`,
          'call emit_translated(ctx, key.vip, key.port); after writing ctx->user_ip4 and ctx->user_port, before return 1',
        )
      const wrongVip = events.filter((e) => `${e.src}:${e.sport}` !== vip)
      if (wrongVip.length)
        fail(
          `${wrongVip.length} of ${events.length} events name ${wrongVip[0].src}:${wrongVip[0].sport} as the Service, not ${vip}`,
          'pass the address the socket asked for, as the key holds it: emit_translated(ctx, key.vip, key.port)',
        )
      // Each event's backend against the SYNs the client really sent (wire.bpf.c), per destination.
      const byDst = new Map<string, number>()
      for (const e of events) byDst.set(`${e.dst}:${e.dport}`, (byDst.get(`${e.dst}:${e.dport}`) ?? 0) + 1)
      const reported = [...byDst].map(([d, n]) => `${d} × ${n}`).join(', ')
      const notSent = [...byDst.keys()].filter((d) => !wire.syns.has(d))
      if (notSent.length)
        fail(
          `events name ${notSent.join(', ')} as the backend, but the client sent no SYN there (SYNs: ${synList(wire)}; events: ${reported})`,
          'call emit_translated() after the rewrite: it reads the backend from ctx->user_ip4 and ctx->user_port',
        )
      if (events.length !== results.length)
        fail(
          `${events.length} TRANSLATED events for ${results.length} connects to ${vip}: one per connect() (${reported})`,
          'emit_translated() once per translation, on the path that rewrites ctx, and nowhere else',
        )
      return `${events.length} TRANSLATED events for ${results.length} connects: ${vip} => ${reported}`
    },
  },
  {
    id: 'services.no-nat',
    title: 'no conntrack entry and no NAT rule names the VIP',
    hint: "Translate in connect4 only: no iptables/nftables DNAT rule for the VIP (that is kube-proxy's way, per packet, with conntrack).",
    // Not cheap: it looks after services.spread's 300 requests, which it makes when run without it
    // (as a later step's sweep of earlier steps' cheap checks did: 0.5 to 1.8 s a step).
    run: async (ctx) => {
      const {service} = await ctx.spread()
      const vip = service.clusterIP
      const found: string[] = []
      // /proc/net/nf_conntrack exists only while the conntrack module is loaded: no file, no entry.
      for (const file of ['/proc/net/nf_conntrack']) {
        if (!existsSync(file)) continue
        const lines = readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.includes(`dst=${vip} `))
        if (lines.length) found.push(`${lines.length} conntrack entries (${lines[0].trim().slice(0, 120)})`)
      }
      for (const [tool, args] of [
        ['iptables-save', []],
        ['nft', ['list', 'ruleset']],
      ] as const) {
        const r = await run(tool, [...args], {timeoutMs: 5000})
        if (!ok(r)) continue
        const rules = r.stdout.split('\n').filter((l) => l.includes(vip))
        if (rules.length) found.push(`${tool}: ${rules[0].trim()}`)
      }
      if (found.length) fail(`the VIP ${vip} is named by ${found.join('; ')}`)
      return `no conntrack entry and no iptables or nftables rule names ${vip}`
    },
  },
  {
    id: 'services.no-backends',
    title: 'a connect to a Service with no backend fails at once, and nothing goes out addressed to its VIP',
    hint: 'if (svc->count == 0) return 0; before the modulo: return 0 makes connect() fail with EPERM at once.',
    run: async (ctx) => {
      const s = await ctx.ready()
      const empty = s.services.find((v, i) => i > 0)
      if (!empty) throw new CheckSkip('service.yaml has no second Service')
      const {results, wire} = await ctx.requests(s.client, s.clientCgroup, {ip: empty.clusterIP, port: empty.port}, 3, {
        limitMs: 1000,
      })
      const vip = `${empty.clusterIP}:${empty.port}`
      const toVip = wire.toVip.get(empty.clusterIP) ?? 0n
      if (toVip > 0n)
        fail(
          `${toVip} packets went out addressed to ${vip}, a Service no pod backs (${failures(results)}): with count 0, bpf_get_prandom_u32() % 0 is the random number itself in BPF (no trap, the verifier allows it), the backend lookup missed, and connect() went on to the VIP`,
          'Check svc->count before the modulo: if (svc->count == 0) return 0; (connect() then fails with EPERM, as a Service with no endpoints is rejected).',
        )
      const refused = results.filter((r) => r.error === 'EPERM')
      if (refused.length !== results.length)
        fail(
          `connects to ${vip} (no backend): ${failures(results) || `${results.filter((r) => r.ok).length} answered`}; expected each to fail with EPERM`,
        )
      return `${results.length} connects to ${vip} (no backend) failed at once with EPERM; 0 packets addressed to it`
    },
  },
  {
    id: 'services.scope',
    title: "a process of a pod outside the pods' cgroup is not served: its connect to the VIP is left as it was",
    hint: "connect4 runs for the cgroup it is attached to and every cgroup under it: attach it to the pods' cgroup, not to one above it.",
    run: async (ctx) => {
      const s = await ctx.ready()
      const service = s.services[0]
      const vip = `${service.clusterIP}:${service.port}`
      const {results, wire, proven} = await ctx.requests(
        s.other,
        s.otherCgroup,
        {ip: service.clusterIP, port: service.port},
        SCOPE_CONNECTS,
        {
          limitMs: 1000,
          // Not waited out when the kernel shows every connect still connecting to the VIP itself
          // (connect4 did not rewrite it, and cannot now) and wire.bpf.c dropped that many SYNs to it.
          proof: async (w) => {
            if ((w.toVip.get(service.clusterIP) ?? 0n) < BigInt(SCOPE_CONNECTS)) return undefined
            const peers = await connectingTo(s.other.netnsPath)
            return peers.length === SCOPE_CONNECTS && peers.every((p) => p === vip)
              ? `its ${SCOPE_CONNECTS} sockets were all connecting to ${vip} itself`
              : undefined
          },
        },
      )
      const served = results.filter((r) => r.ok).length
      if (served)
        fail(
          `${served} of ${results.length} requests to ${service.clusterIP}:${service.port} from pod ${s.other.name}, whose process is in ${s.otherCgroup} (not under the pods' cgroup), were answered by a backend: connect4 is attached to ${s.attachedTo}`,
          `Attach connect4 to the pods' cgroup only: a program attached to ${s.attachedTo} runs for every cgroup under it.`,
        )
      if ((wire.toVip.get(service.clusterIP) ?? 0n) === 0n)
        fail(
          `pod ${s.other.name}'s connects to ${service.clusterIP} were neither answered nor seen on its host veth (${failures(results)})`,
        )
      return `pod ${s.other.name} (cgroup ${s.otherCgroup}) was not served: its SYNs left addressed to ${service.clusterIP}${proven ? ` (${proven})` : ''}`
    },
  },
]
