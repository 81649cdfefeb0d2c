import {describe, it, expect} from 'vitest'
import {execa} from 'execa'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  decodeFlowEvent,
  encodeFlowEvent,
  FLOW_EVENT_SIZE,
  FLOW_REASONS,
  FlowDecodeError,
  reasonById,
} from '../../src/bpf/flow-events.js'
import {FlowNamer, UNKNOWN_RULE} from '../../src/observe/flow-names.js'
import {flowMatches} from '../../src/observe/flow-filter.js'
import {flowLine} from '../../src/observe/flow-line.js'
import type {PolicyState} from '../../src/policy/store.js'
import {labelsKey} from '../../src/policy/resolve.js'
import {repoRoot} from '../helpers/env.js'

// The reason table is one list: bpf/ebpfcni_flow.h. The decoder's table, the struct's layout and
// what observe says of a flow are held to it here.

const HEADER = readFileSync(join(repoRoot, 'bpf/ebpfcni_flow.h'), 'utf8')

describe('flow events: the C header and the decoder agree', () => {
  it('every REASON_ line of ebpfcni_flow.h is in the decoder, with its number, name and text, and nothing else is', () => {
    const inHeader = [...HEADER.matchAll(/^#define REASON_(\w+)\s+(\d+)\s+\/\* (.+?) \*\/$/gm)].map((m) => ({
      id: Number(m[2]),
      name: m[1].toLowerCase().replace(/_/g, '-'),
      text: m[3],
    }))
    expect(inHeader.length).toBeGreaterThan(5)
    expect(FLOW_REASONS).toEqual(inHeader)
    expect(Number(/^#define FLOW_REASONS (\d+)$/m.exec(HEADER)?.[1])).toBe(FLOW_REASONS.length)
  })

  it("struct flow_event's size and offsets are the decoder's (clang, target bpf)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flow-layout-'))
    try {
      const offsets: Record<string, number> = {
        ts_ns: 0,
        saddr: 8,
        daddr: 12,
        sport: 16,
        dport: 18,
        ifindex: 20,
        eth_proto: 24,
        proto: 26,
        tcp_flags: 27,
        direction: 28,
        verdict: 29,
        reason: 30,
        version: 31,
      }
      const asserts = Object.entries(offsets)
        .map(([m, o]) => `_Static_assert(__builtin_offsetof(struct flow_event, ${m}) == ${o}, "${m}");`)
        .join('\n')
      writeFileSync(
        join(dir, 'layout.c'),
        `#include "ebpfcni_flow.h"\n_Static_assert(sizeof(struct flow_event) == ${FLOW_EVENT_SIZE}, "size");\n${asserts}\n`,
      )
      const arch = (await execa('uname', ['-m'])).stdout.trim()
      const r = await execa(
        'clang',
        [
          '-target',
          'bpf',
          '-fsyntax-only',
          `-I${join(repoRoot, 'bpf')}`,
          `-I/usr/include/${arch}-linux-gnu`,
          join(dir, 'layout.c'),
        ],
        {reject: false, timeout: 30_000},
      )
      expect(r.exitCode, r.stderr).toBe(0)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('decodes what the datapath writes: addresses and ports in network order, names for verdict, direction and reason', () => {
    const e = decodeFlowEvent(
      encodeFlowEvent({
        tsNs: 123n,
        src: '10.244.1.3',
        dst: '10.244.1.2',
        sport: 41234,
        dport: 8080,
        ipProto: 6,
        tcpFlags: 0x12,
        ifindex: 7,
        direction: 2,
        verdict: 2,
        reason: 5,
      }),
    )
    expect(e).toMatchObject({
      tsNs: 123n,
      src: '10.244.1.3',
      dst: '10.244.1.2',
      sport: 41234,
      dport: 8080,
      proto: 'TCP',
      tcpFlags: 'SYN ACK',
      ifindex: 7,
      direction: 'to-pod',
      verdict: 'DROPPED',
    })
    expect(e.reason.text).toBe('isolated, no rule allows it')
    const v6 = decodeFlowEvent(encodeFlowEvent({ethProto: 0x86dd, direction: 2, verdict: 2, reason: 8}))
    expect([v6.proto, v6.src, v6.reason.name]).toEqual(['IPv6', '', 'not-ipv4'])
  })

  it('refuses what is not a flow event, saying what arrived', () => {
    expect(() => decodeFlowEvent(Buffer.alloc(16))).toThrow(FlowDecodeError)
    expect(() => decodeFlowEvent(Buffer.alloc(16))).toThrow(/an event of 16 bytes: struct flow_event is 32/)
    const wrongVersion = encodeFlowEvent({direction: 1, verdict: 1, reason: 0})
    wrongVersion[31] = 9
    expect(() => decodeFlowEvent(wrongVersion)).toThrow(/version 9: this ebpfcni reads version 1/)
    const wrongVerdict = encodeFlowEvent({direction: 1, verdict: 1, reason: 0})
    wrongVerdict[29] = 7
    expect(() => decodeFlowEvent(wrongVerdict)).toThrow(/verdict 7/)
    expect(reasonById(42).text).toMatch(/reason 42 \(not in ebpfcni_flow.h's table\)/)
  })
})

describe('observe names what decided', () => {
  const pods = [
    {name: 'httpbin', ip: '10.0.0.2', labels: {app: 'httpbin'}},
    {name: 'sleep', ip: '10.0.0.3', labels: {app: 'sleep'}},
    {name: 'other', ip: '10.0.0.4', labels: {app: 'other'}},
  ]
  const state = (over: Partial<PolicyState>): PolicyState => ({
    version: 1,
    rules: [],
    policies: {},
    identities: {},
    nextIdentity: 256,
    ...over,
  })
  const policy = (name: string, ingress: PolicyState['policies'][string]['spec']['ingress']) => ({
    [name]: {spec: {name, podSelector: {app: 'httpbin'}, ingress}, appliedAt: ''},
  })
  const ev = (src: string, dst: string, dport: number, reason: number, verdict: 1 | 2 = 2) =>
    decodeFlowEvent(encodeFlowEvent({src, dst, sport: 41234, dport, tcpFlags: 2, direction: 2, verdict, reason}))
  const namer = (s: PolicyState) => new FlowNamer({pods: () => pods, policyState: () => s}, 0)

  it('isolated by a port rule: the policy and the port it allows, in the line observe prints', () => {
    const s = state({
      policies: policy('httpbin-from-sleep-80', [{from: [{app: 'sleep'}], ports: [{protocol: 'TCP', port: 80}]}]),
    })
    const f = namer(s).name(ev('10.0.0.3', '10.0.0.2', 8080, 5))
    expect(f).toMatchObject({
      src: {pod: 'sleep', port: 41234},
      dst: {pod: 'httpbin', port: 8080},
      policy: 'policy httpbin-from-sleep-80',
      nearMiss: 'allows TCP 80 only; this was TCP 8080',
    })
    expect(flowLine(f, {color: false})).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} sleep:41234 -> httpbin:8080 TCP SYN\s+to_pod\s+DROPPED\s+isolated, no rule allows it \(policy httpbin-from-sleep-80: allows TCP 80 only; this was TCP 8080\)$/,
    )
  })

  it('isolated by the peer: the labels the policy admits and the ones the sender has', () => {
    const s = state({policies: policy('httpbin-allow-sleep', [{from: [{app: 'sleep'}]}])})
    expect(namer(s).name(ev('10.0.0.4', '10.0.0.2', 80, 5)).nearMiss).toBe(
      'allows app=sleep only; the sender other has app=other',
    )
    expect(namer(s).name(ev('10.9.9.9', '10.0.0.2', 80, 5)).nearMiss).toBe(
      'allows app=sleep only; the sender 10.9.9.9 is no pod',
    )
    expect(namer(state({policies: policy('lockdown', [])})).name(ev('10.0.0.3', '10.0.0.2', 80, 5))).toMatchObject({
      policy: 'policy lockdown',
      nearMiss: 'admits nothing: it has no ingress rule',
    })
  })

  it('a hand-written rule is named as one; a rule from a policy by the policy', () => {
    const manual = state({rules: [{from: 'sleep', to: 'httpbin', verdict: 'deny'}]})
    expect(namer(manual).name(ev('10.0.0.3', '10.0.0.2', 80, 1)).policy).toBe('rule deny sleep → httpbin')
    const fromPolicy = state({policies: policy('httpbin-allow-sleep', [{from: [{app: 'sleep'}]}])})
    expect(namer(fromPolicy).name(ev('10.0.0.3', '10.0.0.2', 80, 2, 1)).policy).toBe('policy httpbin-allow-sleep')
    const port = state({policies: policy('web', [{from: [{app: 'sleep'}], ports: [{protocol: 'TCP', port: 80}]}])})
    expect(namer(port).name(ev('10.0.0.3', '10.0.0.2', 80, 4, 1)).policy).toBe('policy web')
    // A reason no rule is behind names none.
    expect(namer(port).name(ev('10.0.0.3', '10.0.0.2', 80, 6, 1)).policy).toBeUndefined()
  })

  it('a deny is never credited to a NetworkPolicy, which only allows: with no rule behind it, it says so', () => {
    const allowOnly = state({policies: policy('httpbin-allow-sleep', [{from: [{app: 'sleep'}]}])})
    const f = namer(allowOnly).name(ev('10.0.0.3', '10.0.0.2', 80, 1))
    expect(f.policy).toBe(UNKNOWN_RULE)
    expect(flowLine(f, {color: false})).not.toMatch(/httpbin-allow-sleep/)
    const both = state({
      policies: policy('httpbin-allow-sleep', [{from: [{app: 'sleep'}]}]),
      rules: [{from: 'sleep', to: 'httpbin', verdict: 'deny'}],
    })
    expect(namer(both).name(ev('10.0.0.3', '10.0.0.2', 80, 1)).policy).toBe('rule deny sleep → httpbin')
  })

  it('a deny whose pair had only an ALLOW rule in the store names that rule, not "none" (walked: an ALLOW dropped)', () => {
    const allowed = state({rules: [{from: 'sleep', to: 'httpbin', verdict: 'allow'}]})
    const f = namer(allowed).name(ev('10.0.0.3', '10.0.0.2', 80, 1))
    expect(f.policy).toBe('no deny rule in the store at the time: it held rule allow sleep → httpbin')
    expect(flowLine(f, {color: false})).not.toMatch(/none in the store/)
    // The other way round: an allow where the store held only a deny.
    const denied = state({rules: [{from: 'sleep', to: 'httpbin', verdict: 'deny'}]})
    expect(namer(denied).name(ev('10.0.0.3', '10.0.0.2', 80, 2, 1)).policy).toBe(
      'no allow rule in the store at the time: it held rule deny sleep → httpbin',
    )
  })

  it('an isolated drop of a packet the store allowed says so, not "no rule allows it" (walked: a pair ALLOW ignored)', () => {
    const fromPolicy = state({policies: policy('httpbin-allow-sleep', [{from: [{app: 'sleep'}]}])})
    const f = namer(fromPolicy).name(ev('10.0.0.3', '10.0.0.2', 80, 5))
    expect(flowLine(f, {color: false})).toMatch(
      /to_pod\s+DROPPED\s+isolated, though a rule in the store allows it \(policy httpbin-allow-sleep: it admits sleep on every port; the store held an allow for this packet at the time\)$/,
    )
    const port = state({policies: policy('web', [{from: [{app: 'sleep'}], ports: [{protocol: 'TCP', port: 80}]}])})
    expect(namer(port).name(ev('10.0.0.3', '10.0.0.2', 80, 5)).nearMiss).toMatch(/^it admits sleep on TCP 80; /)
    // Another port of the same policy: a near miss, as before.
    expect(namer(port).name(ev('10.0.0.3', '10.0.0.2', 8080, 5)).reasonText).toBe('isolated, no rule allows it')
    const manual = state({
      policies: policy('lockdown', []),
      rules: [{from: 'sleep', to: 'httpbin', verdict: 'allow'}],
    })
    expect(namer(manual).name(ev('10.0.0.3', '10.0.0.2', 80, 5))).toMatchObject({
      reasonText: 'isolated, though a rule in the store allows it',
      policy: 'rule allow sleep → httpbin',
    })
  })

  it('a rule written after the store was last read is found for a packet that came after it', () => {
    let now = state({policies: policy('httpbin-allow-sleep', [{from: [{app: 'sleep'}]}])})
    // The cache would hold the first snapshot for an hour: only the event's own time may refresh it.
    const n = new FlowNamer({pods: () => pods, policyState: () => now}, 3_600_000)
    const at = (tsNs: bigint) =>
      decodeFlowEvent(
        encodeFlowEvent({tsNs, src: '10.0.0.3', dst: '10.0.0.2', dport: 80, direction: 2, verdict: 2, reason: 1}),
      )
    expect(n.name(at(1n)).policy).toBe(UNKNOWN_RULE)
    now = state({...now, rules: [{from: 'sleep', to: 'httpbin', verdict: 'deny'}]})
    // A packet from before the last read is not a reason to read again.
    expect(n.name(at(1n)).policy).toBe(UNKNOWN_RULE)
    expect(n.name(at(process.hrtime.bigint() + 1_000_000n)).policy).toBe('rule deny sleep → httpbin')
  })

  it('a pod with an identity (the identity design) carries it', () => {
    const s = state({identities: {[labelsKey({app: 'sleep'})]: 257}})
    const f = namer(s).name(ev('10.0.0.3', '10.0.0.2', 80, 5))
    expect([f.src.identity, f.dst.identity]).toEqual([257, undefined])
  })

  it('--pod, --verdict and --reason select flows', () => {
    const f = namer(state({})).name(ev('10.0.0.4', '10.0.0.2', 80, 5))
    expect(flowMatches(f, {pod: 'other'})).toBe(true)
    expect(flowMatches(f, {pod: '10.0.0.2'})).toBe(true)
    expect(flowMatches(f, {pod: 'sleep'})).toBe(false)
    expect(flowMatches(f, {verdict: 'dropped', reason: 'isolated'})).toBe(true)
    expect(flowMatches(f, {verdict: 'forwarded'})).toBe(false)
    expect(flowMatches(f, {reason: 'denied'})).toBe(false)
  })
})

describe("observe shows lab 6's translations (emit_translated)", () => {
  // What emit_translated writes: saddr:sport the VIP the socket asked for, daddr:dport the backend,
  // the ifindex field the socket's cgroup id, verdict FLOW_TRANSLATED (3), reason REASON_SERVICE.
  const raw = encodeFlowEvent({
    src: '10.96.6.10',
    sport: 80,
    dst: '10.244.66.3',
    dport: 80,
    ifindex: 4242,
    ipProto: 6,
    direction: 1,
    verdict: 3,
    reason: 14,
  })

  it('decodes a translation: the cgroup in place of an interface, no TCP flags', () => {
    const e = decodeFlowEvent(raw)
    expect(e).toMatchObject({verdict: 'TRANSLATED', src: '10.96.6.10', dst: '10.244.66.3', cgroupId: 4242, ifindex: 0})
    expect(e.reason.name).toBe('service')
  })

  it("names the socket's pod after its cgroup, prints VIP => backend, and --pod and --verdict find it", () => {
    const n = new FlowNamer(
      {
        pods: () => [],
        policyState: () => ({version: 1, rules: [], policies: {}, identities: {}, nextIdentity: 256}),
        cgroups: (id) => (id === 4242 ? '/ebpfcni-services-1/pods/client' : undefined),
      },
      0,
    )
    const f = n.name(decodeFlowEvent(raw))
    expect(f).toMatchObject({program: 'connect4', socket: {cgroupId: 4242, pod: 'client'}})
    expect(flowLine(f, {color: false, time: false})).toBe(
      "10.96.6.10:80 => 10.244.66.3:80 TCP         connect4  TRANSLATED a Service's VIP, swapped for a backend in the socket call (socket of pod client)",
    )
    expect(flowMatches(f, {pod: 'client', verdict: 'translated'})).toBe(true)
    expect(flowMatches(f, {verdict: 'dropped'})).toBe(false)
    // A cgroup gone before observe named it: its id, never a guess.
    const gone = new FlowNamer({pods: () => [], policyState: () => undefined as never, cgroups: () => undefined}, 0)
    expect(flowLine(gone.name(decodeFlowEvent(raw)), {color: false, time: false})).toMatch(
      /\(socket of cgroup id 4242\)$/,
    )
  })
})
