import type {FlowEvent, PacketFields} from '../bpf/flow-events.js'
import type {KernelDrop} from '../bpf/kernel-drops.js'
import {tcpSockets} from '../net/probes.js'
import type {EventsSoFar} from './flow-feed.js'

// What a probe's own TCP handshake met, as the learner's programs reported it, or as the kernel's
// drop tracer saw it: the first half of the fast proof of a drop (docs/observe.md, "How lab 4's
// checks read the events"). The lab then corroborates each report with its program's own verdict
// on that packet; an event alone proves nothing, since a helper can report a drop and return
// something else.

/** A DROPPED event for one of the probe's handshake packets. */
export interface HandshakeDrop {
  event: FlowEvent
  /** The probe's SYN (true), or the server's SYN-ACK back to it (false). */
  request: boolean
  /** The probe's ephemeral port. */
  port: number
}

/** A drop the kernel saw (kernel_drops.bpf.c on kfree_skb) of one of the probe's handshake packets. */
export interface HandshakeKernelDrop {
  drop: KernelDrop
  request: boolean
  port: number
}

/**
 * The packets, among `packets`, that are the SYN of a connection from `from` to `to`:`dport` or the
 * SYN-ACK back to it, whose ephemeral port is a connection of the client's still waiting for its
 * answer (SYN_SENT in its /proc/net/tcp). In a check's own pod only the probe connects, so such a
 * connection is the probe's.
 */
async function ownHandshake<T extends PacketFields>(
  packets: T[],
  from: {netnsPath: string; ip: string},
  to: {ip: string},
  dport: number,
): Promise<Array<{packet: T; request: boolean; port: number}>> {
  const mine = packets.filter(
    (e) =>
      e.proto === 'TCP' &&
      ((e.src === from.ip && e.dst === to.ip && e.dport === dport && e.tcpFlags === 'SYN') ||
        (e.src === to.ip && e.dst === from.ip && e.sport === dport && e.tcpFlags === 'SYN ACK')),
  )
  if (!mine.length) return []
  const waiting = new Set(
    (await tcpSockets(from.netnsPath))
      .filter((s) => s.state === 'SYN_SENT' && s.remoteIp === to.ip && s.remotePort === dport)
      .map((s) => s.localPort),
  )
  return mine
    .map((packet) => {
      const request = packet.src === from.ip
      return {packet, request, port: request ? packet.sport : packet.dport}
    })
    .filter((d) => waiting.has(d.port))
}

/**
 * The DROPPED events, so far, for the probe's own handshake packets (ownHandshake). Empty when
 * nothing is reported (or no ring: `soFar` gives undefined).
 */
export async function handshakeDrops(
  soFar: EventsSoFar,
  from: {netnsPath: string; ip: string},
  to: {ip: string},
  dport: number,
): Promise<HandshakeDrop[]> {
  const dropped = ((await soFar()) ?? []).filter((e) => e.verdict === 'DROPPED')
  return (await ownHandshake(dropped, from, to, dport)).map(({packet: event, request, port}) => ({
    event,
    request,
    port,
  }))
}

/** The kernel's drops, among `drops`, of the probe's own handshake packets (ownHandshake). */
export async function handshakeKernelDrops(
  drops: KernelDrop[],
  from: {netnsPath: string; ip: string},
  to: {ip: string},
  dport: number,
): Promise<HandshakeKernelDrop[]> {
  return (await ownHandshake(drops, from, to, dport)).map(({packet: drop, request, port}) => ({drop, request, port}))
}
