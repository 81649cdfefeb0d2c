import {describe, it, expect} from 'vitest'
import {flowRows} from '../../src/ui/flow-rows.js'
import {flowMatches} from '../../src/observe/flow-filter.js'
import {parseFlowQuery, describeFlowQuery} from '../../src/observe/flow-query.js'
import {onVethPod, podsByVeth} from '../../src/observe/web.js'
import type {Flow} from '../../src/observe/flow-names.js'

// The projector page's logic without a browser: pairing a packet's xdp_prog and to_pod events,
// grouping repeats, the pod behind a veth, and the filters its URL takes. (The page itself runs in
// Chromium in test/integration/observe-page.test.ts.)

const T0 = Date.parse('2026-12-07T20:19:50.000Z')
function flow(p: Partial<Flow> & {at?: number}): Flow {
  const {at, ...rest} = p
  return {
    time: new Date(T0 + (at ?? 0)).toISOString(),
    verdict: 'FORWARDED',
    reason: 'no-rule',
    reasonText: 'no rule applies',
    direction: 'from-pod',
    program: 'xdp_prog',
    proto: 'TCP',
    tcpFlags: 'SYN',
    src: {ip: '10.0.0.4', port: 41234, pod: 'other'},
    dst: {ip: '10.0.0.2', port: 80, pod: 'httpbin'},
    ifindex: 7,
    interface: 'veth1',
    ...rest,
  }
}
const toPod = (p: Partial<Flow> & {at?: number} = {}): Flow =>
  flow({
    direction: 'to-pod',
    program: 'to_pod',
    verdict: 'DROPPED',
    reason: 'isolated',
    reasonText: 'isolated, no rule allows it',
    interface: 'veth2',
    ...p,
  })
const ipv6 = (at: number, iface = 'veth2'): Flow =>
  flow({
    at,
    direction: 'to-pod',
    program: 'to_pod',
    verdict: 'DROPPED',
    reason: 'not-ipv4',
    reasonText: 'not IPv4',
    proto: 'IPv6',
    tcpFlags: '',
    src: {ip: '', port: 0},
    dst: {ip: '', port: 0},
    interface: iface,
  })

describe('the page rows: one per packet, repeats grouped', () => {
  it("a packet's xdp_prog and to_pod events are one row with both verdicts", () => {
    const m = flowRows()
    expect(m.add(flow({at: 0}), 0)).toBeUndefined() // waits for its to_pod
    const row = m.add(toPod({at: 1}), 5)
    expect(row).toMatchObject({
      verdict: 'DROPPED',
      count: 1,
      sent: {program: 'xdp_prog'},
      received: {program: 'to_pod'},
    })
    expect(m.rows()).toHaveLength(1)
    expect(m.flush(10_000)).toBe(false)
  })

  it('events that are not the same packet stay apart: another tuple, other flags, or too far apart in time', () => {
    const m = flowRows()
    m.add(flow({at: 0}), 0)
    m.add(toPod({at: 1, src: {ip: '10.0.0.4', port: 41235, pod: 'other'}}), 1) // another source port
    m.add(toPod({at: 2, tcpFlags: 'ACK'}), 2)
    m.add(toPod({at: 900}), 3) // 900 ms later: a retransmission's to_pod, not this packet's
    expect(m.rows().every((r) => !(r.sent && r.received))).toBe(true)
    expect(m.waiting()).toBe(1)
    // Nobody came for it: after holdMs it stands alone, with no to_pod verdict.
    expect(m.flush(299)).toBe(false)
    expect(m.flush(300)).toBe(true)
    expect(m.rows()[0]).toMatchObject({sent: {program: 'xdp_prog'}, received: undefined, verdict: 'FORWARDED'})
  })

  it('two packets of one connection with the same flags pair first in, first out', () => {
    const m = flowRows()
    m.add(flow({at: 0, tcpFlags: 'ACK', reason: 'ct-reply'}), 0)
    m.add(flow({at: 1, tcpFlags: 'ACK', reason: 'no-rule'}), 0)
    const first = m.add(toPod({at: 2, tcpFlags: 'ACK', verdict: 'FORWARDED'}), 0)
    expect(first?.sent?.reason).toBe('ct-reply')
    expect(m.waiting()).toBe(1)
  })

  it('a drop by xdp_prog and a packet without IPv4 addresses are rows at once', () => {
    const m = flowRows()
    expect(m.add(flow({verdict: 'DROPPED', reason: 'denied'}), 0)).toMatchObject({verdict: 'DROPPED', count: 1})
    expect(m.add(ipv6(0), 0)).toMatchObject({received: {proto: 'IPv6'}, sent: undefined})
  })

  it('repeats are one row "×5, last …" that moves to the top; a different row breaks nothing', () => {
    const m = flowRows()
    for (let i = 0; i < 5; i++) {
      m.add(ipv6(i * 4000), 0)
      m.add(ipv6(i * 4000 + 1, 'veth9'), 0) // the same on another pod's veth: its own row
    }
    m.add(flow({at: 100, verdict: 'DROPPED', reason: 'denied'}), 0)
    m.add(ipv6(20_000), 0)
    const rows = m.rows()
    expect(rows.map((r) => [r.received?.interface ?? r.sent?.interface, r.count])).toEqual([
      ['veth2', 6],
      ['veth1', 1],
      ['veth9', 5],
    ])
    expect(rows[0]).toMatchObject({firstTime: '2026-12-07T20:19:50.000Z', lastTime: '2026-12-07T20:20:10.000Z'})
  })

  it('retried connections group without their ephemeral ports; rows far apart in time do not', () => {
    const m = flowRows()
    for (const [at, port] of [
      [0, 41000],
      [1000, 41001],
      [60_000, 41002],
    ]) {
      m.add(flow({at, src: {ip: '10.0.0.4', port, pod: 'other'}}), at)
      m.add(toPod({at: at + 1, src: {ip: '10.0.0.4', port, pod: 'other'}}), at)
    }
    expect(m.rows().map((r) => [r.count, r.mixedSport, r.mixedDport])).toEqual([
      [1, false, false],
      [2, true, false],
    ])
  })
})

describe('a translation (lab 6) is its own row', () => {
  it('a TRANSLATED flow makes a TRANSLATED row, never FORWARDED; verdict=translated selects it', () => {
    const m = flowRows()
    const t: Flow = {
      ...flow({}),
      verdict: 'TRANSLATED' as Flow['verdict'],
      program: 'connect4',
      reason: 'service',
      direction: 'from-pod',
    }
    expect(m.add(t, 0)).toMatchObject({verdict: 'TRANSLATED', count: 1})
    expect(flowMatches(t, parseFlowQuery(new URLSearchParams('verdict=translated')))).toBe(true)
    expect(flowMatches(t, parseFlowQuery(new URLSearchParams('verdict=forwarded')))).toBe(false)
  })
})

describe("the page's filters, as Hubble names them", () => {
  const q = (s: string) => parseFlowQuery(new URLSearchParams(s), T0)
  it('from-pod, to-pod, port, protocol, verdict and since select flows', () => {
    const f = toPod({at: 0})
    expect(q('from-pod=other&to-pod=httpbin&port=80&protocol=tcp&verdict=DROPPED')).toEqual({
      fromPod: 'other',
      toPod: 'httpbin',
      port: 80,
      protocol: 'TCP',
      verdict: 'dropped',
    })
    expect(flowMatches(f, q('from-pod=other&to-pod=httpbin&port=80&protocol=tcp&verdict=DROPPED'))).toBe(true)
    expect(flowMatches(f, q('from-pod=httpbin'))).toBe(false)
    expect(flowMatches(f, q('to-pod=10.0.0.2'))).toBe(true)
    expect(flowMatches(f, q('port=41234'))).toBe(true)
    expect(flowMatches(f, q('port=443'))).toBe(false)
    expect(flowMatches(f, q('protocol=UDP'))).toBe(false)
    expect(flowMatches(f, q('verdict=forwarded'))).toBe(false)
    expect(q('since=5m').since).toBe(T0 - 300_000)
    expect(q('since=1h30m').since).toBe(T0 - 5_400_000)
    expect(flowMatches(f, q('since=2026-12-07T20:19:49Z'))).toBe(true)
    expect(flowMatches(f, q('since=2026-12-07T20:19:51Z'))).toBe(false)
    // An empty input of the page's form is no filter.
    expect(q('from-pod=&port=&verdict=')).toEqual({})
    expect(describeFlowQuery(new URLSearchParams('from-pod=other&port=&verdict=dropped'))).toBe(
      'from-pod=other verdict=dropped',
    )
  })

  it('what does not parse is refused, naming the parameter and what it takes', () => {
    expect(() => q('port=http')).toThrow('port: "http" is not a port number (1-65535)')
    expect(() => q('port=70000')).toThrow(/not a port number/)
    expect(() => q('verdict=denied')).toThrow('verdict: "denied" is none of FORWARDED, DROPPED, TRANSLATED')
    expect(() => q('protocol=sctp')).toThrow(/none of TCP, UDP, ICMP, IPv6/)
    expect(() => q('since=yesterday')).toThrow(/neither a duration \(30s, 5m, 1h30m\) nor a date/)
    expect(() => q('namespace=default')).toThrow(/"namespace" is not a filter: use from-pod, to-pod/)
  })

  it("reason takes a program's reason, or a drop reason of the running kernel by its name, in any case", () => {
    expect(q('reason=isolated').reason).toBe('isolated')
    // This machine's kernel has BTF with enum skb_drop_reason (5.17+): its names, as observe --kernel shows them.
    expect(q('reason=NEIGH_FAILED').reason).toBe('NEIGH_FAILED')
    expect(q('reason=skb_drop_reason_no_socket').reason).toBe('NO_SOCKET')
    expect(() => q('reason=NOT_A_REASON')).toThrow(/reason: "NOT_A_REASON" is none of .*isolated.*nor a drop reason/)
    const kernelDrop = {...toPod(), program: 'kernel' as const, verdict: 'DROPPED' as const, reason: 'NEIGH_FAILED'}
    expect(flowMatches(kernelDrop, q('reason=neigh_failed'))).toBe(true)
    expect(flowMatches(kernelDrop, q('reason=NO_SOCKET'))).toBe(false)
  })

  it('a flow without IPv4 addresses is named by the pod whose host veth it ran on, and filtered by it', () => {
    const veths = podsByVeth({
      bridges: [
        {
          pods: [
            {name: 'httpbin', hostVeth: 'veth2'},
            {name: 'ghost', hostVeth: null},
          ],
        },
      ],
      unbridged: [{name: 'sleep', hostVeth: 'veth3'}],
    })
    expect([...veths]).toEqual([
      ['veth2', 'httpbin'],
      ['veth3', 'sleep'],
    ])
    const into = onVethPod(ipv6(0), veths)
    expect([into.src.pod, into.dst.pod]).toEqual([undefined, 'httpbin'])
    const out = onVethPod({...ipv6(0, 'veth3'), direction: 'from-pod', program: 'xdp_prog'}, veths)
    expect([out.src.pod, out.dst.pod]).toEqual(['sleep', undefined])
    expect(flowMatches(into, q('to-pod=httpbin'))).toBe(true)
    expect(flowMatches(into, q('from-pod=httpbin'))).toBe(false)
    // IPv4 flows are named by address (flow-names.ts), never by the veth; unknown veths name nobody.
    expect(onVethPod(toPod(), veths)).toEqual(toPod())
    expect(onVethPod(ipv6(0, 'veth7'), veths).dst.pod).toBeUndefined()
    expect(podsByVeth('not a topology').size).toBe(0)
  })
})
