import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {decodeFlowEvent, encodeFlowEvent} from '../../src/bpf/flow-events.js'
import {
  CHECK_RULES,
  FlowNamer,
  NO_POLICY_RECORD,
  NOT_A_DROP,
  UNKNOWN_RULE,
  type NamingHistory,
} from '../../src/observe/flow-names.js'
import {flowLine} from '../../src/observe/flow-line.js'
import {readNamingHistory} from '../../src/observe/flow-history.js'
import {PodHistory, podHistoryPath, type PodLife} from '../../src/host/pod-history.js'
import {Ledger} from '../../src/host/ledger.js'
import {runInCheck} from '../../src/host/check-scope.js'
import {PolicyStore, type PolicyState} from '../../src/policy/store.js'
import type {PolicyVersion} from '../../src/policy/history.js'
import {policyStateDiscoverer} from '../../labs/04-security-policy/reset.js'

// A flow is named with what was true when it happened: the pod that held each address then, and
// the policy store's version then. Where no record covers that moment, "unknown", never today's
// holder of the address.

/** The flow event at wall-clock `ms`, as FlowNamer maps bpf_ktime_get_ns (CLOCK_MONOTONIC) to the time of day. */
const tsAt = (ms: number): bigint =>
  BigInt(ms - (Date.now() - Number(process.hrtime.bigint() / 1_000_000n))) * 1_000_000n
const ev = (ms: number, src: string, dst: string, reason: number, verdict: 1 | 2 = 2, dport = 80) =>
  decodeFlowEvent(
    encodeFlowEvent({tsNs: tsAt(ms), src, dst, sport: 41234, dport, tcpFlags: 2, direction: 2, verdict, reason}),
  )
const DENIED = 1
const ISOLATED = 5
const CT_REPLY = 6

// An hour ago, or just after boot on a machine up for less (a flow's time is CLOCK_MONOTONIC, which
// starts at boot: none can be older): every moment of these stories is in the past.
const T = Math.max(Date.now() - 3_600_000, Date.now() - Number(process.hrtime.bigint() / 1_000_000n) + 1000)
const life = (over: Partial<PodLife> & Pick<PodLife, 'name' | 'ip' | 'from'>): PodLife => ({
  id: `${over.name}@${over.from}`,
  labels: {app: over.name},
  ...over,
})
const version = (at: number, state: Partial<PolicyVersion['state']>): PolicyVersion => ({
  at,
  state: {rules: [], policies: {}, identities: {}, ...state},
})
const allowSleep = {
  'httpbin-allow-sleep': {
    spec: {name: 'httpbin-allow-sleep', podSelector: {app: 'httpbin'}, ingress: [{from: [{app: 'sleep'}]}]},
    appliedAt: '',
  },
}
const today: PolicyState = {version: 1, rules: [], policies: allowSleep, identities: {}, nextIdentity: 256}
const namer = (h: NamingHistory, pods = [{name: 'newcomer', ip: '10.0.0.5', labels: {app: 'newcomer'}}]) =>
  new FlowNamer({pods: () => pods, policyState: () => today, history: () => h}, 0)

describe('naming a flow by its own time', () => {
  const httpbin = life({name: 'httpbin', ip: '10.0.0.2', from: T})
  const sleep = life({name: 'sleep', ip: '10.0.0.3', from: T})

  it('an address reused: the old flow keeps the old pod, the new one gets the new pod', () => {
    const old = life({name: 'old', ip: '10.0.0.5', from: T, until: T + 60_000})
    const later = life({name: 'newcomer', ip: '10.0.0.5', from: T + 120_000})
    const n = namer({lives: [httpbin, old, later], versions: [version(T, {})]})
    const before = n.name(ev(T + 30_000, '10.0.0.5', '10.0.0.2', 0, 1))
    const after = n.name(ev(T + 180_000, '10.0.0.5', '10.0.0.2', 0, 1))
    expect([before.src.pod, after.src.pod]).toEqual(['old', 'newcomer'])
    expect(before.src.labels).toEqual({app: 'old'})
    expect(flowLine(before, {color: false})).toMatch(/ old:41234 -> httpbin:80 /)
  })

  it('a flow no record covers is "unknown", never the pod that holds the address today', () => {
    // The address was the check's, then nobody's on record, then newcomer's (today's pod).
    const later = life({name: 'newcomer', ip: '10.0.0.5', from: T + 120_000})
    const n = namer({lives: [httpbin, later], versions: [version(T, {})]})
    const f = n.name(ev(T + 60_000, '10.0.0.5', '10.0.0.2', 0, 1))
    expect(f.src).toEqual({ip: '10.0.0.5', port: 41234, podUnknown: true})
    expect(flowLine(f, {color: false})).toMatch(/ 10\.0\.0\.5\(pod unknown\):41234 -> httpbin:80 /)
    expect(flowLine(f, {color: false})).not.toMatch(/newcomer/)
    // An address no pod ever held (the gateway) is just an address.
    expect(n.name(ev(T + 60_000, '10.0.0.1', '10.0.0.2', 0, 1)).src).toEqual({ip: '10.0.0.1', port: 41234})
  })

  it('a deny after an allow policy is named by the rule of its time; after `policy remove` the earlier rows keep it', () => {
    const deny = {from: 'sleep', to: 'httpbin', verdict: 'deny' as const}
    const versions = [
      version(T, {policies: allowSleep}), // kubectl apply httpbin-allow-sleep
      version(T + 60_000, {policies: allowSleep, rules: [deny]}), // policy deny sleep httpbin
      version(T + 120_000, {policies: allowSleep}), // policy remove sleep httpbin
    ]
    const n = namer({lives: [httpbin, sleep], versions})
    const denies = [61_000, 70_000, 90_000, 119_000].map((dt) => n.name(ev(T + dt, '10.0.0.3', '10.0.0.2', DENIED)))
    for (const f of denies) {
      expect(f.policy).toBe('rule deny sleep → httpbin')
      expect(flowLine(f, {color: false})).not.toMatch(/httpbin-allow-sleep/)
    }
    // A deny when the store had no deny rule (before it was written, after it was removed) names none, and never the allow policy.
    expect(n.name(ev(T + 30_000, '10.0.0.3', '10.0.0.2', DENIED)).policy).toBe(UNKNOWN_RULE)
    expect(n.name(ev(T + 150_000, '10.0.0.3', '10.0.0.2', DENIED)).policy).toBe(UNKNOWN_RULE)
    // An isolation drop of the allow policy's time is still the policy's.
    expect(n.name(ev(T + 30_000, '10.0.0.4', '10.0.0.2', ISOLATED)).policy).toBe('policy httpbin-allow-sleep')
  })

  it("a flow from before any version of the policy store says so, rather than name today's", () => {
    const n = namer({lives: [httpbin, sleep], versions: [version(T + 60_000, {policies: allowSleep})]})
    const f = n.name(ev(T + 1000, '10.0.0.3', '10.0.0.2', ISOLATED))
    expect(f.policy).toBe(NO_POLICY_RECORD)
    expect(f.nearMiss).toBeUndefined()
    // A verdict no rule is behind names none.
    expect(n.name(ev(T + 1000, '10.0.0.3', '10.0.0.2', CT_REPLY, 1)).policy).toBeUndefined()
  })

  it("a check's pods: their flows are marked with the check, and credited to the check's own rules", () => {
    const probe = life({name: 'spoofer', ip: '10.0.0.9', from: T, until: T + 5000, check: '4/policy.spoofing'})
    const n = namer({lives: [httpbin, probe], versions: [version(T, {policies: allowSleep})]})
    const f = n.name(ev(T + 2000, '10.0.0.9', '10.0.0.2', ISOLATED))
    expect(f).toMatchObject({check: '4/policy.spoofing', src: {pod: 'spoofer'}, policy: CHECK_RULES})
    expect(flowLine(f, {color: false})).toMatch(/\[check 4\/policy\.spoofing\] spoofer:41234 -> httpbin:80/)
    expect(n.name(ev(T + 2000, '10.0.0.3', '10.0.0.2', 0, 1)).check).toBeUndefined()
  })
})

describe('the history files', () => {
  let dir: string
  beforeEach(() => void (dir = mkdtempSync(join(tmpdir(), 'ebpfcni-history-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("the ledger writes a pod's life: made (by a check, in a check run), and ended when it is forgotten", () => {
    const ledger = new Ledger(join(dir, 'ledger.json'))
    const a = ledger.record('pod', 'web', {details: {name: 'web'}})
    ledger.update(a.id, {ip: '10.0.0.7', labels: {app: 'web'}, netnsPath: '/run/netns/web'})
    const b = runInCheck('policy.deny', () => {
      const e = ledger.record('pod', 'probe', {lab: 4, details: {ip: '10.0.0.8'}})
      return e
    })
    ledger.forget([a.id])
    const lives = new PodHistory(podHistoryPath(join(dir, 'ledger.json'))).read()
    const web = lives.find((l) => l.id === a.id)
    expect(web).toMatchObject({name: 'web', ip: '10.0.0.7', labels: {app: 'web'}, netns: '/run/netns/web'})
    expect(web?.check).toBeUndefined()
    expect(web?.until).toBeGreaterThanOrEqual(web!.from)
    expect(lives.find((l) => l.id === b.id)).toMatchObject({name: 'probe', check: '4/policy.deny'})
    expect(lives.find((l) => l.id === b.id)?.until).toBeUndefined()
  })

  it('the policy store writes each version with its time, and none for a change that changes nothing', () => {
    const store = new PolicyStore(join(dir, 'policy.json'))
    store.setRule({from: 'sleep', to: 'httpbin', verdict: 'deny'})
    store.setRule({from: 'sleep', to: 'httpbin', verdict: 'deny'})
    store.removeRule('sleep', 'httpbin')
    const versions = store.history.read()
    expect(versions.map((v) => v.state.rules.length)).toEqual([1, 0])
    expect(versions[0].at).toBeLessThanOrEqual(versions[1].at)
    expect(JSON.parse(readFileSync(join(dir, 'policy-history.json'), 'utf8')).version).toBe(1)
  })

  it('reset forgets the policy state from its moment on: later flows are not named with the rules before it', async () => {
    const saved = process.env.EBPFCNI_STATE_DIR
    process.env.EBPFCNI_STATE_DIR = dir
    try {
      const store = new PolicyStore()
      store.setRule({from: 'sleep', to: 'httpbin', verdict: 'deny'})
      await new Promise((r) => setTimeout(r, 20)) // the rule's moment, then the reset's
      for (const a of await policyStateDiscoverer()) await a.perform()
      const versions = store.history.read()
      expect(versions.map((v) => v.state.rules.length)).toEqual([1, 0])
      const pods = [life({name: 'httpbin', ip: '10.0.0.2', from: T}), life({name: 'sleep', ip: '10.0.0.3', from: T})]
      const n = namer({lives: pods, versions})
      expect(n.name(ev(versions[1].at + 1000, '10.0.0.3', '10.0.0.2', DENIED)).policy).toBe(UNKNOWN_RULE)
      expect(n.name(ev(versions[0].at + 5, '10.0.0.3', '10.0.0.2', DENIED)).policy).toBe('rule deny sleep → httpbin')
    } finally {
      if (saved === undefined) delete process.env.EBPFCNI_STATE_DIR
      else process.env.EBPFCNI_STATE_DIR = saved
    }
  })

  it('a corrupt or missing history is no history: the flow is "unknown", and nothing throws', () => {
    const ledgerFile = join(dir, 'ledger.json')
    const store = new PolicyStore(join(dir, 'policy.json'))
    writeFileSync(podHistoryPath(ledgerFile), '{"version":1,"lives":[{"id":')
    writeFileSync(join(dir, 'policy-history.json'), 'not json at all')
    const read = () =>
      readNamingHistory(store.history, new Ledger(ledgerFile), new PodHistory(podHistoryPath(ledgerFile)))
    expect(read()).toEqual({lives: [], versions: []})
    // Entries of the wrong shape are left out, the rest kept.
    writeFileSync(
      podHistoryPath(ledgerFile),
      JSON.stringify({version: 1, lives: [{id: 'x', name: 'ok', ip: '10.0.0.2', labels: {}, from: T}, {id: 3}]}),
    )
    expect(read().lives.map((l) => l.name)).toEqual(['ok'])
    rmSync(podHistoryPath(ledgerFile))
    const n = new FlowNamer(
      {pods: () => [{name: 'today', ip: '10.0.0.3', labels: {}}], policyState: () => today, history: read},
      0,
    )
    const f = n.name(ev(T, '10.0.0.3', '10.0.0.2', DENIED))
    expect(f.src).toEqual({ip: '10.0.0.3', port: 41234, podUnknown: true})
    expect(f.policy).toBe(NO_POLICY_RECORD)
    // A history source that throws names nothing rather than crash.
    const broken = new FlowNamer(
      {
        pods: () => [],
        policyState: () => today,
        history: () => {
          throw new Error('EACCES')
        },
      },
      0,
    )
    expect(broken.name(ev(T, '10.0.0.3', '10.0.0.2', DENIED)).policy).toBe(NO_POLICY_RECORD)
  })

  it("today's pods not in the history count from their creation on, and not before", () => {
    const ledgerFile = join(dir, 'ledger.json')
    writeFileSync(
      ledgerFile,
      JSON.stringify({
        version: 1,
        entries: [
          {
            id: 'p1',
            kind: 'pod',
            name: 'legacy',
            createdAt: new Date(T + 60_000).toISOString(),
            details: {ip: '10.0.0.6', labels: {app: 'legacy'}},
          },
        ],
      }),
    )
    const store = new PolicyStore(join(dir, 'policy.json'))
    const h = readNamingHistory(store.history, new Ledger(ledgerFile), new PodHistory(podHistoryPath(ledgerFile)))
    const n = namer(h)
    expect(n.name(ev(T + 90_000, '10.0.0.6', '10.0.0.2', 0, 1)).src.pod).toBe('legacy')
    expect(n.name(ev(T + 30_000, '10.0.0.6', '10.0.0.2', 0, 1)).src.podUnknown).toBe(true)
  })
})

describe('what a program returned, when the events contradict what it reported', () => {
  const pods = [life({name: 'httpbin', ip: '10.0.0.2', from: T}), life({name: 'sleep', ip: '10.0.0.3', from: T})]
  const tcp = (
    ms: number,
    src: string,
    dst: string,
    sport: number,
    dport: number,
    flags: number,
    dir: 1 | 2,
    verdict: 1 | 2,
    reason: number,
  ) =>
    decodeFlowEvent(
      encodeFlowEvent({tsNs: tsAt(ms), src, dst, sport, dport, tcpFlags: flags, direction: dir, verdict, reason}),
    )
  const SYN = 0x02
  const SYN_ACK = 0x12
  const ACK = 0x10

  it('a SYN to_pod reported DROPPED that the pod answered: the answer and the rest of the connection say what to_pod returned', () => {
    const n = namer({lives: pods, versions: [version(T, {})]})
    // XDP_DROP (1) returned from to_pod after tc_drop's event: the event says DROPPED, the kernel goes on.
    const drop = n.name(tcp(T + 1000, '10.0.0.3', '10.0.0.2', 40000, 80, SYN, 2, 2, ISOLATED))
    expect(drop.returned).toBeUndefined()
    const answer = n.name(tcp(T + 1001, '10.0.0.2', '10.0.0.3', 80, 40000, SYN_ACK, 1, 1, 0))
    expect(answer.returned).toBe(NOT_A_DROP('to_pod'))
    expect(answer.returned).toMatch(/XDP_DROP is 1, TC_ACT_RECLASSIFY, which cls_bpf treats as unspecified and goes on/)
    // The client's next packet, which to_pod passes as a reply to the server's answer, is not left as "a flow the pod opened".
    const next = n.name(tcp(T + 1002, '10.0.0.3', '10.0.0.2', 40000, 80, ACK, 2, 1, CT_REPLY))
    expect(next.returned).toBe(NOT_A_DROP('to_pod'))
    expect(flowLine(next, {color: false})).toMatch(
      /reply to a flow the pod opened \(to_pod reported DROPPED for this connection's SYN/,
    )
  })

  it('a drop that held (no answer), or a SYN that a later rule let through, says nothing more', () => {
    const n = namer({lives: pods, versions: [version(T, {})]})
    n.name(tcp(T + 1000, '10.0.0.3', '10.0.0.2', 40001, 80, SYN, 2, 2, ISOLATED))
    // Another connection's answer is not this one's.
    expect(n.name(tcp(T + 1001, '10.0.0.2', '10.0.0.3', 80, 40002, SYN_ACK, 1, 1, 0)).returned).toBeUndefined()
    // The retransmitted SYN passed (a rule was written meanwhile): its answer is an honest one.
    n.name(tcp(T + 2000, '10.0.0.3', '10.0.0.2', 40001, 80, SYN, 2, 1, 4))
    expect(n.name(tcp(T + 2001, '10.0.0.2', '10.0.0.3', 80, 40001, SYN_ACK, 1, 1, 0)).returned).toBeUndefined()
    // An answer long after the drop is no proof.
    n.name(tcp(T + 3000, '10.0.0.3', '10.0.0.2', 40003, 80, SYN, 2, 2, ISOLATED))
    expect(n.name(tcp(T + 60_000, '10.0.0.2', '10.0.0.3', 80, 40003, SYN_ACK, 1, 1, 0)).returned).toBeUndefined()
  })
})
