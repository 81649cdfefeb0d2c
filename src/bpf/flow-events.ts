import {int2ip, ip2int} from '../net/ipv4.js'
import {closeFd} from './ffi.js'
import {mapDump, mapInfo} from './map-ops.js'
import {objGet} from './object.js'
import {counterValue} from './counters.js'

// Lab 4's and lab 5's flow events, as bpf/ebpfcni_flow.h writes them into the flow_events ring
// buffer: the reason table and the event layout. test/unit/flow-events.test.ts holds this file to
// the header (every REASON_ line: number, name and text), as Cilium holds its Go table to
// drop_reasons.h.

export interface FlowReason {
  id: number
  /** The C name without REASON_, lower case with dashes: "port-denied" (for --reason and NDJSON). */
  name: string
  /** What observe prints. */
  text: string
}

export const FLOW_REASONS: readonly FlowReason[] = [
  {id: 0, name: 'no-rule', text: 'no rule applies'},
  {id: 1, name: 'denied', text: 'denied by a rule for every port'},
  {id: 2, name: 'allowed', text: 'allowed by a rule for every port'},
  {id: 3, name: 'port-denied', text: 'denied by a port rule'},
  {id: 4, name: 'port-allowed', text: 'allowed by a port rule'},
  {id: 5, name: 'isolated', text: 'isolated, no rule allows it'},
  {id: 6, name: 'ct-reply', text: 'reply to a flow the pod opened'},
  {id: 7, name: 'invalid-source', text: "invalid source: not the pod's own address"},
  {id: 8, name: 'not-ipv4', text: 'not IPv4'},
  {id: 9, name: 'malformed', text: 'malformed: shorter than its headers'},
  {id: 10, name: 'redirect-peer', text: 'to a pod of this node: bpf_redirect_peer'},
  {id: 11, name: 'redirect-neigh', text: 'to another node: bpf_fib_lookup, bpf_redirect_neigh'},
  {id: 12, name: 'to-stack', text: "to the node's stack"},
  {id: 13, name: 'shot', text: 'dropped: TC_ACT_SHOT, no rule asked for it'},
  {id: 14, name: 'service', text: "a Service's VIP, swapped for a backend in the socket call"},
]

export const reasonById = (id: number): FlowReason =>
  FLOW_REASONS[id] ?? {id, name: `reason-${id}`, text: `reason ${id} (not in ebpfcni_flow.h's table)`}

export const FLOW_EVENT_SIZE = 32
export const FLOW_EVENT_VERSION = 1
export const VERDICTS = {1: 'FORWARDED', 2: 'DROPPED', 3: 'TRANSLATED'} as const
export const DIRECTIONS = {1: 'from-pod', 2: 'to-pod'} as const
export type Verdict = (typeof VERDICTS)[keyof typeof VERDICTS]
export type Direction = (typeof DIRECTIONS)[keyof typeof DIRECTIONS]

/** One decoded event: what the datapath knew when it decided. */
export interface FlowEvent {
  /** bpf_ktime_get_ns(): CLOCK_MONOTONIC nanoseconds. */
  tsNs: bigint
  src: string
  dst: string
  sport: number
  dport: number
  /** "TCP", "UDP", "ICMP", "IPv6", "ARP", or the number. */
  proto: string
  /** "SYN", "SYN ACK", "" when not TCP. */
  tcpFlags: string
  ifindex: number
  direction: Direction
  verdict: Verdict
  reason: FlowReason
  /** TRANSLATED (lab 6): the socket's cgroup (v2) id, low 32 bits (the record's ifindex field; ifindex is then 0). */
  cgroupId?: number
}

const IP_PROTOS: Record<number, string> = {1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6'}
const ETH_PROTOS: Record<number, string> = {0x0800: 'IPv4', 0x86dd: 'IPv6', 0x0806: 'ARP'}
const TCP_FLAG_NAMES: Array<[number, string]> = [
  [0x02, 'SYN'],
  [0x10, 'ACK'],
  [0x01, 'FIN'],
  [0x04, 'RST'],
  [0x08, 'PSH'],
]

export const tcpFlagNames = (flags: number): string =>
  TCP_FLAG_NAMES.filter(([bit]) => flags & bit)
    .map(([, n]) => n)
    .join(' ')

/** What a packet's record says of the packet: the first 28 bytes of struct flow_event, and of kernel_drops.bpf.c's record. */
export interface PacketFields {
  tsNs: bigint
  src: string
  dst: string
  sport: number
  dport: number
  proto: string
  tcpFlags: string
  ifindex: number
}

/**
 * The packet's fields of such a record: timestamp, addresses, ports, ifindex, eth and IP protocol,
 * TCP flags (addresses, ports and eth_proto in network order, as the packet had them). Without
 * `ipv4`, addresses are empty and the protocol is the ethertype's name.
 */
export function decodePacketFields(b: Buffer, ipv4: boolean): PacketFields {
  const ethProto = b.readUInt16BE(24)
  const ipProto = b[26]
  return {
    tsNs: b.readBigUInt64LE(0),
    src: ipv4 ? int2ip(b.readUInt32BE(8)) : '',
    dst: ipv4 ? int2ip(b.readUInt32BE(12)) : '',
    sport: b.readUInt16BE(16),
    dport: b.readUInt16BE(18),
    proto: ipv4
      ? (IP_PROTOS[ipProto] ?? `proto ${ipProto}`)
      : (ETH_PROTOS[ethProto] ?? `ethertype 0x${ethProto.toString(16)}`),
    tcpFlags: ipv4 && ipProto === 6 ? tcpFlagNames(b[27]) : '',
    ifindex: b.readUInt32LE(20),
  }
}

/** Write a packet's fields into such a record (the encoders of tests and benchmarks). */
export function encodePacketFields(
  b: Buffer,
  fields: {tsNs?: bigint; src?: string; dst?: string; sport?: number; dport?: number; ifindex?: number},
  protos: {ethProto: number; ipProto: number; tcpFlags?: number},
): void {
  b.writeBigUInt64LE(fields.tsNs ?? 0n, 0)
  b.writeUInt32BE(ip2int(fields.src ?? '0.0.0.0'), 8)
  b.writeUInt32BE(ip2int(fields.dst ?? '0.0.0.0'), 12)
  b.writeUInt16BE(fields.sport ?? 0, 16)
  b.writeUInt16BE(fields.dport ?? 0, 18)
  b.writeUInt32LE(fields.ifindex ?? 0, 20)
  b.writeUInt16BE(protos.ethProto, 24)
  b[26] = protos.ipProto
  b[27] = protos.tcpFlags ?? 0
}

/** Thrown for a sample that is not one of ebpfcni_flow.h's events: it says what arrived. */
export class FlowDecodeError extends Error {}

/**
 * Decode one ring buffer sample. struct flow_event is little-endian host order for its own fields
 * (x86_64 and arm64), network order for addresses, ports and eth_proto, exactly as the packet had them.
 */
export function decodeFlowEvent(b: Buffer): FlowEvent {
  if (b.length !== FLOW_EVENT_SIZE)
    throw new FlowDecodeError(
      `an event of ${b.length} bytes: struct flow_event is ${FLOW_EVENT_SIZE} (a program built with another ebpfcni_flow.h, or one that writes its own records into flow_events)`,
    )
  const version = b[31]
  if (version !== FLOW_EVENT_VERSION)
    throw new FlowDecodeError(`an event of version ${version}: this ebpfcni reads version ${FLOW_EVENT_VERSION}`)
  const verdict = VERDICTS[b[29] as 1 | 2 | 3]
  const direction = DIRECTIONS[b[28] as 1 | 2]
  if (!verdict || !direction)
    throw new FlowDecodeError(`an event with verdict ${b[29]} and direction ${b[28]}: not ebpfcni_flow.h's values`)
  const fields = decodePacketFields(b, b.readUInt16BE(24) === 0x0800)
  // A translation happens in a socket call, before any packet: no interface, the socket's cgroup instead.
  if (verdict === 'TRANSLATED')
    return {
      ...fields,
      tcpFlags: '',
      ifindex: 0,
      cgroupId: fields.ifindex,
      direction,
      verdict,
      reason: reasonById(b[30]),
    }
  return {...fields, direction, verdict, reason: reasonById(b[30])}
}

/** A struct flow_event as the datapath would write it (tests, the benchmark, and the decoder's own test). */
export function encodeFlowEvent(event: {
  tsNs?: bigint
  src?: string
  dst?: string
  sport?: number
  dport?: number
  ipProto?: number
  ethProto?: number
  tcpFlags?: number
  ifindex?: number
  direction: 1 | 2
  verdict: 1 | 2 | 3
  reason: number
}): Buffer {
  const b = Buffer.alloc(FLOW_EVENT_SIZE)
  encodePacketFields(b, event, {
    ethProto: event.ethProto ?? 0x0800,
    ipProto: event.ipProto ?? 6,
    tcpFlags: event.tcpFlags,
  })
  b[28] = event.direction
  b[29] = event.verdict
  b[30] = event.reason
  b[31] = FLOW_EVENT_VERSION
  return b
}

/**
 * Drops per reason and direction, from the pinned drop_reasons per-CPU array (key reason * 2 +
 * direction - 1, ebpfcni_flow.h), summed over CPUs: what the metrics exporter serves.
 */
export function readDropReasons(pin: string): Array<{reason: FlowReason; direction: Direction; drops: bigint}> {
  const fd = objGet(pin)
  try {
    const info = mapInfo(fd)
    return mapDump(fd, info).map(({key, value}) => {
      const slot = key.readUInt32LE(0)
      return {
        reason: reasonById(Math.floor(slot / 2)),
        direction: DIRECTIONS[((slot % 2) + 1) as 1 | 2],
        drops: counterValue(value, info),
      }
    })
  } finally {
    closeFd(fd)
  }
}
