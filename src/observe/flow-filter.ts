import {FLOW_REASONS} from '../bpf/flow-events.js'
import type {Flow} from './flow-names.js'

// Which flows to show: observe's --pod, --verdict and --reason, and the filters Hubble names
// (--from-pod, --to-pod, --port, --protocol, --since), which the projector page takes from its URL.

export interface FlowFilter {
  /** A pod name or IPv4 address: flows from or to it. */
  pod?: string
  /** A pod name or IPv4 address: flows it sent. */
  fromPod?: string
  /** A pod name or IPv4 address: flows on their way to it. */
  toPod?: string
  /** Flows with this source or destination port. */
  port?: number
  /** "TCP", "UDP", "ICMP", "IPv6"… (any case). */
  protocol?: string
  verdict?: 'forwarded' | 'dropped' | 'translated'
  /** A reason's name (FLOW_REASONS). */
  reason?: string
  /** Flows at or after this moment (ms since the epoch). */
  since?: number
}

export const REASON_NAMES = FLOW_REASONS.map((r) => r.name)

const at = (e: Flow['src'], who: string) => e.pod === who || e.ip === who
/** A translation's pod is its socket's (its src is the Service's VIP). */
const socketOf = (f: Flow, who: string) => f.socket?.pod === who

export function flowMatches(f: Flow, filter: FlowFilter): boolean {
  if (filter.verdict && f.verdict !== filter.verdict.toUpperCase()) return false
  if (filter.reason && f.reason !== filter.reason) return false
  if (filter.pod && !at(f.src, filter.pod) && !at(f.dst, filter.pod) && !socketOf(f, filter.pod)) return false
  if (filter.fromPod && !at(f.src, filter.fromPod) && !socketOf(f, filter.fromPod)) return false
  if (filter.toPod && !at(f.dst, filter.toPod)) return false
  if (filter.port !== undefined && f.src.port !== filter.port && f.dst.port !== filter.port) return false
  if (filter.protocol && f.proto.toLowerCase() !== filter.protocol.toLowerCase()) return false
  if (filter.since !== undefined && Date.parse(f.time) < filter.since) return false
  return true
}
