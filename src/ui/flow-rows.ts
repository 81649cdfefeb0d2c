import type {Flow} from '../observe/flow-names.js'

// The projector page's rows, from the flows as they arrive: one row per packet with both programs'
// verdicts, and repeated rows grouped. The page runs this very function (observe-page.ts puts its
// source in the page's script), so it is self-contained: nothing from outside its body but types.
//
// One packet, two events: lab 4's xdp_prog reports it leaving the sender's pod, then to_pod
// reports it entering the receiver's. They carry no packet id, so a to_pod event is paired with
// the oldest xdp_prog FORWARDED event of the same 5-tuple and TCP flags at most `pairMs` earlier
// (by the events' own clock; the same path, in order). An xdp_prog FORWARDED event waits `holdMs`
// (the page's clock) for its partner, then stands alone: a packet to the node has no to_pod.
// Anything else stands alone at once: a drop by xdp_prog, a packet without IPv4 addresses, a
// to_pod event with no partner (from the node), lab 5's from_pod and from_node.
//
// Repeats: a packet whose row would read the same as a row seen at most `groupMs` earlier (same
// pods or addresses, same service port, protocol and flags, same verdicts, reasons and policies;
// the ephemeral port aside) is counted on that row ("×5, last 20:19:53"), which moves to the top.

export interface FlowRow {
  id: number
  key: string
  /** What the sender's program (xdp_prog; lab 5 from_pod) decided, if it saw the packet. */
  sent?: Flow
  /** What the receiver's program (to_pod; lab 5 from_node) decided, if it saw the packet. */
  received?: Flow
  verdict: 'FORWARDED' | 'DROPPED' | 'TRANSLATED'
  count: number
  firstTime: string
  lastTime: string
  /** The grouped packets' source (destination) ports differ: the row names no port there. */
  mixedSport: boolean
  mixedDport: boolean
}

export interface FlowRowsOptions {
  pairMs?: number
  holdMs?: number
  groupMs?: number
  /** Rows kept (the oldest go). */
  max?: number
}

export function flowRows(o: FlowRowsOptions = {}) {
  const pairMs = o.pairMs ?? 200
  const holdMs = o.holdMs ?? 300
  const groupMs = o.groupMs ?? 30_000
  const max = o.max ?? 300
  /** Newest first. */
  let rows: FlowRow[] = []
  let pending: Array<{f: Flow; at: number}> = []
  let nextId = 1
  const ms = (f: Flow) => Date.parse(f.time)
  const tuple = (f: Flow) => [f.src.ip, f.src.port, f.dst.ip, f.dst.port, f.proto, f.tcpFlags].join(' ')
  const side = (f?: Flow) =>
    f ? [f.program, f.verdict, f.reason, f.policy ?? '', f.nearMiss ?? '', f.interface ?? ''].join('|') : '-'
  const keyOf = (sent?: Flow, received?: Flow) => {
    const f = (sent ?? received) as Flow
    const {src, dst} = f
    // The service's port is the lower one: 41234 -> 80 and 80 -> 41234 are both "port 80".
    const service = src.port && dst.port ? (src.port < dst.port ? 's' + src.port : 'd' + dst.port) : ''
    return [src.pod ?? src.ip, dst.pod ?? dst.ip, service, f.proto, f.tcpFlags, side(sent), side(received)].join(' ')
  }

  function place(sent?: Flow, received?: Flow): FlowRow {
    const last = (received ?? sent) as Flow
    const key = keyOf(sent, received)
    const t = ms(last)
    const i = rows.findIndex((r, n) => n < 50 && r.key === key && t - Date.parse(r.lastTime) <= groupMs)
    // Lab 6's connect4 translates a socket's address, no packet yet: its row says so, never FORWARDED.
    const verdict =
      sent?.verdict === 'DROPPED' || received?.verdict === 'DROPPED'
        ? 'DROPPED'
        : last.verdict === 'TRANSLATED'
          ? 'TRANSLATED'
          : 'FORWARDED'
    if (i >= 0) {
      const r = rows[i]
      const was = (r.received ?? r.sent) as Flow
      const row: FlowRow = {
        ...r,
        sent,
        received,
        count: r.count + 1,
        lastTime: last.time,
        mixedSport: r.mixedSport || was.src.port !== last.src.port,
        mixedDport: r.mixedDport || was.dst.port !== last.dst.port,
      }
      rows.splice(i, 1)
      rows.unshift(row)
      return row
    }
    const row: FlowRow = {
      id: nextId++,
      key,
      sent,
      received,
      verdict,
      count: 1,
      firstTime: last.time,
      lastTime: last.time,
      mixedSport: false,
      mixedDport: false,
    }
    rows.unshift(row)
    if (rows.length > max) rows = rows.slice(0, max)
    return row
  }

  return {
    /** Take one flow as it arrives (`now`: the page's clock, ms). Returns the row it changed, if any yet. */
    add(f: Flow, now: number): FlowRow | undefined {
      const addressed = Boolean(f.src.ip && f.dst.ip)
      if (f.program === 'xdp_prog' && f.verdict === 'FORWARDED' && addressed) {
        pending.push({f, at: now})
        if (pending.length > 1000) {
          const oldest = pending.shift() as {f: Flow}
          place(oldest.f, undefined)
        }
        return undefined
      }
      if (f.program === 'to_pod' && addressed) {
        const i = pending.findIndex((p) => {
          const dt = ms(f) - ms(p.f)
          return dt >= 0 && dt <= pairMs && tuple(p.f) === tuple(f)
        })
        if (i >= 0) {
          const [p] = pending.splice(i, 1)
          return place(p.f, f)
        }
      }
      return f.direction === 'from-pod' ? place(f, undefined) : place(undefined, f)
    },
    /** xdp_prog events that waited long enough for a to_pod partner become rows of their own. */
    flush(now: number): boolean {
      const due = pending.filter((p) => now - p.at >= holdMs)
      if (!due.length) return false
      pending = pending.filter((p) => now - p.at < holdMs)
      for (const p of due) place(p.f, undefined)
      return true
    },
    rows: (): FlowRow[] => rows,
    waiting: (): number => pending.length,
  }
}
