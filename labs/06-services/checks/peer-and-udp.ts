import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import type {Lab6Context} from '../context.js'
import type {Service} from '../services.js'
import type {PeerResult} from '../udp.js'

// Step 3: the socket's other calls. getpeername() must say the VIP the process asked for, and a
// UDP "DNS" Service must work for a resolver: each datagram translated (sendmsg4), and the reply's
// source said as the VIP again (recvmsg4), or the resolver drops it as from an unexpected source.

const N = 10

/** "10.244.66.3:53 × 6, 10.244.66.2:53 × 4": what a field held, most first. */
const tally = (rs: PeerResult[], field: 'peer' | 'from' | 'answer'): string => {
  const by = new Map<string, number>()
  for (const r of rs) {
    const v = r[field] ?? r.error ?? 'nothing'
    by.set(v, (by.get(v) ?? 0) + 1)
  }
  return [...by]
    .sort((a, b) => b[1] - a[1])
    .map(([v, n]) => `${v} × ${n}`)
    .join(', ')
}

const dnsService = async (ctx: Lab6Context): Promise<Service> => {
  const s = await ctx.ready()
  const dns = s.services.find((v) => v.name === 'dns')
  if (!dns) throw new CheckSkip('service.yaml has no Service named dns')
  return dns
}

const needHook = async (ctx: Lab6Context, hook: string, why: string): Promise<void> => {
  const s = await ctx.ready()
  if (!s.hooks.includes(hook))
    fail(
      `services.bpf.c has no program named ${hook} (attached: ${s.hooks.join(', ')}): ${why}`,
      `add SEC("cgroup/${hook}") int ${hook}(struct bpf_sock_addr *ctx); ebpfcni attaches each program by its name`,
    )
}

export const PEER_AND_UDP_CHECKS: Array<CheckDefinition<Lab6Context>> = [
  {
    id: 'services.peer',
    title: `getpeername() on ${N} TCP sockets connected to the VIP returns the VIP and port, not the backend`,
    hint: 'SEC("cgroup/getpeername4"): ctx->user_ip4 and user_port hold the backend; look {bpf_get_socket_cookie(ctx), ctx->user_ip4, (__u16)ctx->user_port} up in the reverse map connect4 wrote, and write the VIP and port back. Return 1.',
    run: async (ctx) => {
      const s = await ctx.ready()
      const web = s.services[0]
      const vip = `${web.clusterIP}:${web.port}`
      const {results} = await ctx.peers('tcp', web, N)
      const wrong = results.filter((r) => r.peer !== vip)
      if (!wrong.length) return `getpeername() returned ${vip} on all ${N} connections`
      const backends = new Set(s.backends.map((b) => b.ip))
      const toBackend = wrong.filter((r) => r.peer && backends.has(r.peer.split(':')[0]))
      if (toBackend.length) {
        await needHook(ctx, 'getpeername4', 'the socket is connected to the backend, and getpeername() says so')
        fail(
          `getpeername() returned the backend on ${toBackend.length} of ${N} connections to ${vip} (${tally(results, 'peer')}): the process sees through the Service`,
          'getpeername4 must find the translation of this socket: connect4 writes {cookie, backend} -> {vip, port} into reverse after the rewrite, and getpeername4 looks up {bpf_get_socket_cookie(ctx), ctx->user_ip4, (__u16)ctx->user_port}',
        )
      }
      fail(`getpeername() on connections to ${vip}: ${tally(results, 'peer')}`)
    },
  },
  {
    id: 'services.udp-sendto',
    title: `a UDP "DNS" Service works for a resolver: ${N} queries sent with sendto() to the VIP are answered, each reply from the VIP:53 it asked`,
    hint: "sendmsg4 translates each datagram as connect4 does (share the body: static __always_inline int lb4(ctx)); recvmsg4 says the reply's source, the backend, as the VIP again (the same reverse lookup as getpeername4) and returns 1.",
    run: async (ctx) => {
      const dns = await dnsService(ctx)
      const vip = `${dns.clusterIP}:${dns.port}`
      const {results, wire} = await ctx.peers('udp-sendto', dns, N)
      const answered = results.filter((r) => r.from)
      const toVip = wire.toVip.get(dns.clusterIP) ?? 0n
      if (answered.length < N && toVip > 0n) {
        await needHook(ctx, 'sendmsg4', 'a datagram sent with an address never meets connect4')
        fail(
          `${N - answered.length} of ${N} queries to ${vip} got no reply, and ${toVip} datagrams left the client addressed to the VIP: sendto() was not translated`,
          'sendmsg4 runs for each datagram sent with an address (sendto): translate it as connect4 does, and return 1',
        )
      }
      const fromBackend = answered.filter((r) => r.from !== vip)
      if (fromBackend.length) {
        await needHook(ctx, 'recvmsg4', "recvfrom() reports the backend as the reply's source")
        fail(
          `${fromBackend.length} of ${N} replies came from ${tally(fromBackend, 'from')}, not from ${vip}, where the client sent its query: a resolver drops each as from an unexpected source (nslookup: ";; reply from unexpected source"), so this DNS Service answers nobody. That is the bug recvmsg4 was added for (kernel 5.2, "bpf: fix unconnected udp hooks")`,
          "recvmsg4 gets the reply's source (the backend) in ctx->user_ip4 and user_port: look the socket's translation up in reverse and write the VIP and port back; return 1",
        )
      }
      if (answered.length < N)
        fail(`${answered.length} of ${N} queries to ${vip} were answered: ${tally(results, 'from')}`)
      return `all ${N} queries to ${vip} answered, each reply from ${vip} as recvfrom() says (by ${tally(results, 'answer')})`
    },
  },
  {
    id: 'services.udp-connect',
    title: `a connected UDP socket to the "DNS" Service: ${N} of them get their reply, and getpeername() says the VIP`,
    hint: 'connect4 translates a UDP connect() as a TCP one (the socket is then connected to the backend, whose replies it accepts); getpeername4 says the VIP again.',
    run: async (ctx) => {
      const dns = await dnsService(ctx)
      const vip = `${dns.clusterIP}:${dns.port}`
      const {results} = await ctx.peers('udp-connect', dns, N)
      const answered = results.filter((r) => r.from)
      if (answered.length < N)
        fail(`${N - answered.length} of ${N} connected UDP sockets to ${vip} got no reply (${tally(results, 'from')})`)
      const wrongPeer = results.filter((r) => r.peer !== vip)
      if (wrongPeer.length) {
        await needHook(ctx, 'getpeername4', 'the socket is connected to the backend, and getpeername() says so')
        fail(
          `getpeername() on ${wrongPeer.length} of ${N} connected UDP sockets returned ${tally(wrongPeer, 'peer')}, not ${vip}`,
          'getpeername4 must say the VIP for UDP sockets too: the reverse entry is written by connect4 whatever the protocol',
        )
      }
      return `${N} connected UDP sockets to ${vip}: all answered, getpeername() said ${vip}`
    },
  },
]
