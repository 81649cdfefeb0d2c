import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fail, CheckSkip, type CheckDefinition} from '../check-types.js'
import type {Lab4Context} from './context.js'
import {lab2Check} from '../lab2/checks.js'
import {arp, ipv4LaterFragment, ipv4Tcp, ipv4Udp} from '../../bpf/frames.js'
import {closeFd, objGet, testRun, xdpVerdictName} from '../../bpf/libbpf.js'
import {httpGet} from '../../net/probes.js'
import {labsRoot} from '../../host/paths.js'
import {parseNetworkPolicy, type PolicySpec} from '../../policy/networkpolicy.js'
import {resolve, type PolicyPod} from '../../policy/resolve.js'
import type {CheckPod} from '../check-pods.js'

// Lab 4's checks: the learner's program enforces what the policy layer writes — crafted
// frames first (no pods), then real pods over HTTP, a NetworkPolicy, a controller that
// follows pods, and the identity design's map sizes.

/** The original workshop's policy: httpbin accepts only app=sleep. */
const originalPolicy = () => parseNetworkPolicy(readFileSync(join(labsRoot(), '04-security-policy/policy.yaml'), 'utf8'), 'policy.yaml')

/**
 * HTTP from one check pod to another. When a drop is expected, the program's drop counter answers
 * first: the probe stops as soon as it rises, rather than waiting out its timeout. A program that
 * counts nothing still gets the plain answer (the probe failing), so the verdict is the same.
 */
async function http(ctx: Lab4Context, from: CheckPod, to: CheckPod, expectOk: boolean) {
  const url = `http://${to.ip}/get`
  if (expectOk) return httpGet(from.netnsPath, url, 3)
  const dropsNow = (): bigint | undefined => {
    try {
      return ctx.drops()
    } catch {
      return undefined // no usable drops map: the probe alone answers
    }
  }
  const before = dropsNow()
  if (before === undefined) return httpGet(from.netnsPath, url, 1)
  const stop = new AbortController()
  let counted = false
  const probe = httpGet(from.netnsPath, url, 2, stop.signal)
  const watch = (async () => {
    while (!stop.signal.aborted) {
      if ((dropsNow() ?? before) > before) {
        counted = true
        stop.abort()
        return
      }
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  const r = await probe
  stop.abort()
  await watch
  return counted && !r.ok ? {...r, detail: `HTTP GET ${url} dropped (the drop counter rose)`} : r
}

async function clientAndServer(ctx: Lab4Context): Promise<[CheckPod, CheckPod]> {
  const svc = await ctx.policy()
  const a = await ctx.labelledPod('httpbin', {app: 'httpbin'})
  const b = await ctx.labelledPod('sleep', {app: 'sleep'})
  // Each check starts from no rules and no policies of its own.
  for (const r of svc.store.read().rules) svc.store.removeRule(r.from, r.to)
  for (const n of Object.keys(svc.store.read().policies)) svc.store.deletePolicy(n)
  svc.sync()
  const before = await http(ctx, b, a, true)
  if (!before.ok) throw new CheckSkip(`needs sleep → httpbin to work without rules first (${before.detail})`)
  return [a, b]
}

/** Test-run each [what, frame, expected verdict] on the pinned program; fail naming every mismatch. */
function expectVerdicts(ctx: Lab4Context, cases: Array<[string, Buffer, number]>): void {
  const fd = objGet(ctx.xdpPin())
  try {
    const wrong = cases.map(([what, f, want]) => [what, testRun(fd, f).retval, want] as const).filter(([, got, want]) => got !== want)
    if (wrong.length) fail(wrong.map(([what, got, want]) => `${what} got ${xdpVerdictName(got)}, expected ${xdpVerdictName(want)}`).join('; '))
  } finally {
    closeFd(fd)
  }
}

export const LAB4_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  lab2Check('bpf.compiles'),
  lab2Check('bpf.verifier-accepts'),
  {
    id: 'policy.test-run',
    cost: 'cheap',
    title: 'crafted frames: a denied pair gets XDP_DROP; its reverse, other pairs and ARP get XDP_PASS',
    hint: 'Look up struct ip_pair {saddr, daddr} exactly as in the packet (network order, this direction only); drop only on POLICY_DENY.',
    run: async (ctx) => {
      const d = await ctx.deployed()
      if (!d.maps.some((m) => m.name === 'policy' || m.name === 'identity_policy')) fail(`your program has no map named policy${d.maps.length ? `; its maps: ${d.maps.map((m) => m.name).join(', ')}` : ''}`)
      ;(await ctx.maps()).close()
      const svc = await ctx.policy()
      // Two pretend pods (no netns needed: the frames never leave the test run).
      const x = {name: 'test-x', ip: '10.250.0.1', labels: {t: 'x'}}
      const y = {name: 'test-y', ip: '10.250.0.2', labels: {t: 'y'}}
      ctx.podSource.add(x)
      ctx.podSource.add(y)
      svc.store.setRule({from: x.name, to: y.name, verdict: 'deny'})
      try {
        svc.sync()
        const cases: Array<[string, Buffer, number]> = [
          [`denied ${x.ip} → ${y.ip}`, ipv4Udp(x.ip, y.ip), 1],
          [`reverse ${y.ip} → ${x.ip}`, ipv4Udp(y.ip, x.ip), 2],
          [`unrelated ${x.ip} → 10.250.0.3`, ipv4Udp(x.ip, '10.250.0.3'), 2],
          ['ARP', arp(), 2],
        ]
        expectVerdicts(ctx, cases)
        return `${cases.length} frames: the denied pair dropped, the rest passed`
      } finally {
        svc.store.removeRule(x.name, y.name)
        ctx.podSource.remove(x.name)
        ctx.podSource.remove(y.name)
        svc.sync()
      }
    },
  },
  {
    id: 'policy.deny-drops',
    title: 'after `policy deny sleep httpbin`, sleep → httpbin HTTP fails and the drop counter rises',
    hint: 'On POLICY_DENY: add one to drops[0] (a per-CPU array) and return XDP_DROP.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy()
      const before = ctx.drops()
      svc.setRule('deny', 'sleep', 'httpbin')
      const r = await http(ctx, b, a, false)
      const after = ctx.drops()
      if (r.ok) fail(`sleep ${b.ip} → httpbin ${a.ip} still answered after the deny rule was written`)
      if (after <= before) fail(`HTTP failed, but the drop counter stayed at ${after}: count each drop in drops[0]`)
      return `HTTP failed as it should; drops ${before} → ${after}`
    },
  },
  {
    id: 'policy.allow-passes',
    title: 'an ALLOW rule for the pair lets sleep → httpbin through again',
    hint: 'Only POLICY_DENY drops: a POLICY_ALLOW entry must pass.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy()
      svc.setRule('deny', 'sleep', 'httpbin')
      svc.setRule('allow', 'sleep', 'httpbin')
      const r = await http(ctx, b, a, true)
      if (!r.ok) fail(`with an ALLOW rule for sleep → httpbin: ${r.detail}`)
      return `${b.ip} → ${a.ip} HTTP 200 with an ALLOW rule`
    },
  },
  {
    id: 'policy.remove-restores',
    title: 'removing the deny rule restores sleep → httpbin, and leaves no entry for the pair',
    hint: 'The program must not remember a verdict: it looks the pair up on every packet.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const svc = await ctx.policy()
      svc.setRule('deny', 'sleep', 'httpbin')
      const denied = await http(ctx, b, a, false)
      if (denied.ok) throw new CheckSkip('needs deny to work first (policy.deny-drops)')
      svc.removeRule('sleep', 'httpbin')
      const r = await http(ctx, b, a, true)
      if (!r.ok) fail(`after removing the rule: ${r.detail}`)
      const maps = await ctx.maps()
      const left = [...maps.read().pairs.keys()].filter((k) => k.includes(a.ip!) && k.includes(b.ip!))
      maps.close()
      if (left.length) fail(`the rule is gone from the store but the map still holds ${left.join(', ')}`)
      return `${b.ip} → ${a.ip} HTTP 200 again; no entry left`
    },
  },
  {
    id: 'policy.networkpolicy',
    title: 'the original httpbin/sleep NetworkPolicy: sleep reaches httpbin, an unlabelled pod does not',
    hint: 'No rule for the pair, but the destination is isolated (selected by a policy): drop. An ALLOW rule for the pair wins.',
    run: async (ctx) => {
      const [a, b] = await clientAndServer(ctx)
      const other = await ctx.labelledPod('other', {})
      const svc = await ctx.policy()
      const otherBefore = await http(ctx, other, a, true)
      if (!otherBefore.ok) throw new CheckSkip(`needs the unlabelled pod to reach httpbin before the policy (${otherBefore.detail})`)
      svc.store.putPolicy(originalPolicy())
      const r = svc.sync()
      const sleepOk = await http(ctx, b, a, true)
      const otherDenied = await http(ctx, other, a, false)
      if (!sleepOk.ok) fail(`with the policy applied (${r.written} entries written, ${r.mode} design), sleep ${b.ip} → httpbin ${a.ip} failed: ${sleepOk.detail}`, 'the ALLOW entry for (sleep, httpbin) must win over httpbin being isolated')
      if (otherDenied.ok) fail(`with the policy applied, the unlabelled pod ${other.ip} still reaches httpbin ${a.ip}`, 'httpbin is selected by the policy: without an ALLOW rule for the pair, traffic to it must be dropped')
      return `${r.mode} design, ${r.written} entries: sleep → httpbin 200, unlabelled → httpbin dropped`
    },
  },
  {
    id: 'policy.ports',
    cost: 'cheap',
    title: 'a NetworkPolicy limited to TCP port 80: that port passes; other ports, UDP and other pods are dropped',
    hint: 'After the pair rule: look up struct port_rule_key {src, dst, dport (network order, from the TCP/UDP header after ihl*4 bytes), proto} in the ports map.',
    run: async (ctx) => {
      const d = await ctx.deployed()
      if (!d.maps.some((m) => m.name === 'policy_ports' || m.name === 'identity_policy_ports')) fail(`your program has no ports map (policy_ports, or identity_policy_ports in the identity design); its maps: ${d.maps.map((m) => m.name).join(', ')}`)
      ;(await ctx.maps()).close()
      const svc = await ctx.policy()
      const pods: PolicyPod[] = [
        {name: 'port-client', ip: '10.250.1.1', labels: {role: 'client'}},
        {name: 'port-server', ip: '10.250.1.2', labels: {role: 'server'}},
        {name: 'port-other', ip: '10.250.1.3', labels: {}},
      ]
      const web: PolicySpec = {name: 'server-tcp-80', podSelector: {role: 'server'}, ingress: [{from: [{role: 'client'}], ports: [{protocol: 'TCP', port: 80}]}]}
      pods.forEach((p) => ctx.podSource.add(p))
      svc.store.putPolicy(web)
      try {
        svc.sync()
        const [c, srv, o] = pods.map((p) => p.ip)
        const cases: Array<[string, Buffer, number]> = [
          [`client → server TCP 80`, ipv4Tcp(c, srv, 80), 2],
          [`client → server TCP 8080`, ipv4Tcp(c, srv, 8080), 1],
          [`client → server UDP 80`, ipv4Udp(c, srv, 'x', 80), 1],
          [`unlabelled → server TCP 80`, ipv4Tcp(o, srv, 80), 1],
          // Only a first fragment holds the TCP header: a later one's payload is no port, whatever it spells.
          [`client → server, a later TCP fragment whose payload spells port 80`, ipv4LaterFragment(c, srv, 80), 1],
          [`server → client (a reply, TCP 40000)`, ipv4Tcp(srv, c, 40000), 2],
        ]
        expectVerdicts(ctx, cases)
        return `${cases.length} frames: only TCP 80 from the client reached the server (a later fragment is not taken for port 80)`
      } finally {
        pods.forEach((p) => ctx.podSource.remove(p.name))
        svc.store.deletePolicy(web.name)
        svc.sync()
      }
    },
  },
  {
    id: 'policy.follows-pods',
    cost: 'heavy',
    title: 'with the controller running, a new app=sleep pod reaches httpbin without a new apply, and a deleted pod leaves no rules',
    hint: 'This is the controller\'s job (ebpfcni policy watch); your program must look rules up per packet, not assume a fixed set.',
    run: async (ctx) => {
      const [a] = await clientAndServer(ctx)
      const svc = await ctx.policy()
      svc.store.putPolicy(originalPolicy())
      const controller = ctx.controller(svc)
      await controller.start()
      try {
        const sleep2 = await ctx.labelledPod('sleep-new', {app: 'sleep'})
        const other2 = await ctx.labelledPod('other-new', {})
        let ok = false
        const deadline = Date.now() + 3000
        while (!ok && Date.now() < deadline) {
          await controller.idle()
          ok = (await http(ctx, sleep2, a, true)).ok
        }
        if (!ok) fail(`a new app=sleep pod ${sleep2.ip} could not reach httpbin ${a.ip} within 3 s of appearing`, 'the controller must write the new pod\'s ALLOW entry when the pod appears')
        if ((await http(ctx, other2, a, false)).ok) fail(`a new unlabelled pod ${other2.ip} reaches httpbin: it must be dropped`)
        const gone = sleep2.ip!
        await ctx.dropPod(sleep2)
        await new Promise((r) => setTimeout(r, 100))
        await controller.idle()
        const maps = await ctx.maps()
        const cur = maps.read()
        maps.close()
        const stale = maps.mode === 'ip-pair' ? [...cur.pairs.keys()].filter((k) => k.split('>').includes(gone)) : cur.identities.has(gone) ? [`identity[${gone}]`] : []
        if (stale.length) fail(`pod ${gone} was deleted but the maps still hold ${stale.slice(0, 3).join(', ')}: its address will be reused by another pod`)
        return `new sleep pod allowed, new unlabelled pod dropped, deleted pod's entries gone`
      } finally {
        controller.stop()
      }
    },
  },
  {
    id: 'policy.identity',
    cost: 'cheap',
    title: 'identity design: rules grow with label groups, not pods, and the datapath decides by identity',
    hint: 'Declare identity, identity_policy and identity_isolated (ebpfcni_policy.h); look up both addresses\' identities, then the identity pair.',
    run: async (ctx) => {
      const d = await ctx.deployed()
      if (!d.maps.some((m) => m.name === 'identity_policy')) fail(`your program has no identity_policy map (maps: ${d.maps.map((m) => m.name).join(', ') || 'none'}): still the ip-pair design`)
      ;(await ctx.maps()).close()
      const svc = await ctx.policy()
      // 30 pretend pods in 3 label groups (maps only; the frames are test runs).
      const fakes = Array.from({length: 30}, (_, i) => ({name: `fake-${i}`, ip: `10.251.0.${i + 1}`, labels: {app: ['httpbin', 'sleep', 'other'][i % 3]}}))
      fakes.forEach((p) => ctx.podSource.add(p))
      svc.store.putPolicy(originalPolicy())
      try {
        svc.sync()
        const maps = await ctx.maps()
        const cur = maps.read()
        maps.close()
        const ipPair = resolve('ip-pair', ctx.podSource.list(), [originalPolicy()], []).pairs.size
        if (cur.identities.size < fakes.length) fail(`identity holds ${cur.identities.size} addresses for ${fakes.length} pods`)
        if (cur.pairs.size > 9 * 2) fail(`identity_policy holds ${cur.pairs.size} entries for 3 label groups`)
        const httpbin = fakes[0].ip
        const sleep = fakes[1].ip
        const other = fakes[2].ip
        const cases: Array<[string, Buffer, number]> = [
          [`app=sleep ${sleep} → app=httpbin ${httpbin}`, ipv4Udp(sleep, httpbin), 2],
          [`app=other ${other} → app=httpbin ${httpbin}`, ipv4Udp(other, httpbin), 1],
          [`unknown 10.251.1.1 → app=httpbin ${httpbin}`, ipv4Udp('10.251.1.1', httpbin), 1],
          [`app=other ${other} → app=sleep ${sleep}`, ipv4Udp(other, sleep), 2],
        ]
        expectVerdicts(ctx, cases)
        return `${fakes.length + 3} pods: ${cur.pairs.size} identity rules where address pairs would need ${ipPair}; verdicts by identity correct`
      } finally {
        fakes.forEach((p) => ctx.podSource.remove(p.name))
        svc.store.deletePolicy('httpbin-allow-sleep')
        svc.sync()
      }
    },
  },
]
