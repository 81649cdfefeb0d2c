import {FLOW_REASONS} from '../bpf/flow-events.js'
import type {Flow} from './flow-names.js'

// observe's --pod, --verdict and --reason: which flows to show.

export interface FlowFilter {
  /** A pod name or IPv4 address: flows from or to it. */
  pod?: string
  verdict?: 'forwarded' | 'dropped'
  /** A reason's name (FLOW_REASONS). */
  reason?: string
}

export const REASON_NAMES = FLOW_REASONS.map((r) => r.name)

export function flowMatches(f: Flow, filter: FlowFilter): boolean {
  if (filter.verdict && f.verdict !== filter.verdict.toUpperCase()) return false
  if (filter.reason && f.reason !== filter.reason) return false
  if (filter.pod) {
    const at = (e: Flow['src']) => e.pod === filter.pod || e.ip === filter.pod
    if (!at(f.src) && !at(f.dst)) return false
  }
  return true
}
