import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {readFileSync, writeFileSync, mkdirSync, chmodSync, readdirSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'
import {getLab} from '#engine/catalogue.js'
import {repoRoot, cliRunner, tempStateDir} from '#test/helpers/env.js'
import {labHarness} from '#test/helpers/lab-harness.js'
import {hostSnapshot} from '#test/helpers/host.js'
import {probeTcx} from '#bpf/tcx.js'
import {counterPlacement} from '../checks/modern.js'

// Lab 5 for real: simulated nodes (netns), an underlay bridge, the learner's plugin run in each
// node's namespace; each step's reference passes, each mutant fails the check it should, and
// nothing is left. Then the cluster as a learner drives it by hand with `ebpfcni node`.

const LAB = join(repoRoot, 'labs/05-nodes')
const read = (rel: string): string => readFileSync(join(LAB, rel), 'utf8')
const ROUTES = read('solution/routes/ebpfcni')
const OVERLAY = read('solution/overlay/ebpfcni')
const MTU_CONF = JSON.parse(read('solution/overlay/10-ebpfcni.conf')) as Record<string, unknown>
const NOBRIDGE = read('solution/nobridge/ebpfcni')
const FORWARD = read('solution/nobridge/forward.bpf.c')
const FIB = read('solution/fib/ebpfcni')
const FIB_FORWARD = read('solution/fib/forward.bpf.c')
const MODERN = read('solution/modern-attach/ebpfcni')

interface Mutant {
  name: string
  step: 'routes' | 'overlay' | 'nobridge' | 'fib'
  failsCheck: string
  plugin: string
  edit: [string, string]
  mtu?: boolean
  /** Steps 3 and 4: "noBridge": true (unless false), and forward.bpf.c with this edit. */
  noBridge?: boolean
  forward?: [string, string]
  message: RegExp
  /** What the hint must say, where it names the cause. */
  hint?: RegExp
}

const MUTANTS: Mutant[] = [
  {
    name: 'forwarding never turned on',
    step: 'routes',
    failsCheck: 'nodes.forwarding',
    plugin: ROUTES,
    edit: ['  sysctl -qw net.ipv4.ip_forward=1 || return 1\n', ''],
    message: /node a: net\.ipv4\.ip_forward is 0/,
  },
  {
    name: "routes on-link with no next hop: nobody answers ARP for the other node's pods",
    step: 'routes',
    failsCheck: 'nodes.ping',
    plugin: ROUTES,
    edit: ['ip route replace "$cidr" via "$underlay"', 'ip route replace "$cidr" dev eth0'],
    message: /ping from the pod on node a \(10\.243\.1\.\d+\) to the pod on node b .* got no reply/,
  },
  {
    name: 'no route to the other nodes at all',
    step: 'routes',
    failsCheck: 'nodes.routes',
    plugin: ROUTES,
    edit: ['    ip route replace "$cidr" via "$underlay" || return 1\n', '    :\n'],
    message: /node a has no route to 10\.243\.2\.0\/24 \(node b's pods\)/,
  },
  {
    name: "ip route add, not replace: the node's second pod finds the route there and its ADD fails",
    step: 'routes',
    failsCheck: 'nodes.second-pod',
    plugin: ROUTES,
    edit: ['ip route replace "$cidr" via "$underlay"', 'ip route add "$cidr" via "$underlay"'],
    message: /the ADD of a second pod there failed: .*File exists/,
  },
  {
    name: 'native routes only: the strict underlay drops them',
    step: 'overlay',
    failsCheck: 'nodes.overlay',
    plugin: ROUTES,
    edit: ['', ''],
    mtu: true,
    message: /the underlay dropped [1-9]\d* packet\(s\) addressed to pods and carried 0 VXLAN packet\(s\)/,
  },
  {
    name: 'VXLAN on the IANA port 4789, which the underlay does not count as 8472',
    step: 'overlay',
    failsCheck: 'nodes.overlay',
    plugin: OVERLAY,
    edit: ['dstport 8472', 'dstport 4789'],
    mtu: true,
    message: /counted no VXLAN packet \(UDP 8472\)/,
  },
  {
    name: 'no fdb entries: the tunnel has nowhere to send',
    step: 'overlay',
    failsCheck: 'nodes.overlay',
    plugin: OVERLAY,
    edit: ['|| bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst "$underlay" || return 1', '|| true'],
    mtu: true,
    message: /with the underlay strict, ping from the pod on node a/,
  },
  {
    name: 'bridge fdb add, its error silenced: a node that joins later gets no flood entry',
    step: 'overlay',
    failsCheck: 'nodes.vxlan-fdb',
    plugin: OVERLAY,
    edit: [
      'bridge fdb show dev vxlan0 | grep "^00:00:00:00:00:00 dst $underlay " >/dev/null || bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst "$underlay" || return 1',
      'bridge fdb add 00:00:00:00:00:00 dev vxlan0 dst "$underlay" 2>/dev/null || true',
    ],
    mtu: true,
    message:
      /node c \(10\.98\.0\.3\) joined, then a pod's ADD on node a left vxlan0 flooding to 10\.98\.0\.2: no entry for node c \(10\.98\.0\.3\)/,
    hint: /bridge fdb append .*bridge fdb add finds the entry there/,
  },
  {
    name: 'bridge fdb add once per node (after a look): the ADD after a node joins fails',
    step: 'overlay',
    failsCheck: 'nodes.vxlan-fdb',
    plugin: OVERLAY,
    edit: ['|| bridge fdb append 00:00:00:00:00:00 dev vxlan0', '|| bridge fdb add 00:00:00:00:00:00 dev vxlan0'],
    mtu: true,
    message: /node c joined; the ADD of a pod on node a after it failed: .*File exists.*bridge fdb add does/,
    hint: /bridge fdb append/,
  },
  {
    name: 'vxlan0 made with ip link add alone: the second pod on a node fails its ADD',
    step: 'overlay',
    failsCheck: 'nodes.second-pod',
    plugin: OVERLAY,
    edit: ['dev eth0 2>/dev/null \\\n    || ip link show vxlan0 >/dev/null 2>&1 || return 1', 'dev eth0 || return 1'],
    mtu: true,
    message: /the ADD of a second pod there failed: .*File exists/,
  },
  {
    name: "the pods keep MTU 1500 (the config's mtu not set)",
    step: 'overlay',
    failsCheck: 'nodes.mtu',
    plugin: OVERLAY,
    edit: ['', ''],
    message: /eth0 has MTU 1500, expected 1450/,
  },
  {
    name: 'the bridge path after all ("noBridge" left out of the config)',
    step: 'nobridge',
    failsCheck: 'nodes.no-bridge',
    plugin: NOBRIDGE,
    edit: ['', ''],
    noBridge: false,
    message: /node a has a bridge \(\w+\): with "noBridge": true the plugin must wire pods without one/,
  },
  {
    name: 'a /24 on the pod: it ARPs for the other pod itself, and nothing answers',
    step: 'nobridge',
    failsCheck: 'nodes.no-bridge',
    plugin: NOBRIDGE,
    edit: ['addr add $addr/32 dev $CNI_IFNAME', 'addr add $addr/24 dev $CNI_IFNAME'],
    message: /between the two pods of node a: ping from 10\.243\.1\.\d+ to 10\.243\.1\.\d+ got no reply/,
  },
  {
    name: "bpf_redirect, not bpf_redirect_peer: out through the destination veth's egress",
    step: 'nobridge',
    failsCheck: 'nodes.redirect-peer',
    plugin: NOBRIDGE,
    edit: ['', ''],
    forward: ['bpf_redirect_peer(ep->ifindex, 0)', 'bpf_redirect(ep->ifindex, 0)'],
    message:
      /with TC_ACT_SHOT on the egress of \S+ and \S+: ping .* got no reply; drop_all dropped [1-9]\d* IPv4 packets there/,
  },
  {
    name: "lab 4's rules never asked: the redirect skips the only place a deny was checked",
    step: 'nobridge',
    failsCheck: 'nodes.deny-at-source',
    plugin: NOBRIDGE,
    edit: ['', ''],
    forward: ['\tif (denied(ip))\n\t\treturn TC_ACT_SHOT;\n', ''],
    message:
      /with a deny rule for 10\.243\.1\.\d+ → 10\.243\.1\.\d+ in node a's policy map, a TCP connection from 10\.243\.1\.\d+ to 10\.243\.1\.\d+:80 was still made/,
  },
  {
    name: "from_pod never attached: the node's stack routes the pods' packets",
    step: 'nobridge',
    failsCheck: 'nodes.stack-skipped',
    plugin: NOBRIDGE,
    edit: ['endpoint_add "$addr" && attach_from_pod', 'endpoint_add "$addr"'],
    message:
      /node a forwarded [1-9]\d+ IPv4 datagrams \(\/proc\/net\/snmp ForwDatagrams\) while 1048576 bytes crossed each way.*from_pod is not attached/,
    hint: /attach_from_pod/,
  },
  {
    name: 'pod_packet drops what has no endpoints entry: other nodes and the node itself are cut off',
    step: 'nobridge',
    failsCheck: 'nodes.nobridge-cross',
    plugin: NOBRIDGE,
    edit: ['', ''],
    forward: ['\tif (!ep)\n\t\treturn to_other_node(skb, ip);', '\tif (!ep)\n\t\treturn TC_ACT_SHOT;'],
    message:
      /got no reply\. 10\.243\.2\.\d+ has no endpoints entry on node a; .*from_pod: 10\.243\.1\.\d+ → 10\.243\.2\.\d+ ICMP DROPPED/,
  },
  {
    name: "step 3's program: another node's pods go through the node's stack both ways",
    step: 'fib',
    failsCheck: 'nodes.from-node-peer',
    plugin: NOBRIDGE,
    edit: ['', ''],
    forward: ['', ''],
    message:
      /with TC_ACT_SHOT on the egress of \S+ \(node a\) and \S+ \(node b\): .*drop_all dropped [1-9]\d* IPv4 packets there: what came from the other node reached its pod through the host veth/,
  },
  {
    name: 'from_node written but never attached',
    step: 'fib',
    failsCheck: 'nodes.from-node-peer',
    plugin: FIB,
    edit: ['attach_from_pod && attach_from_node', 'attach_from_pod'],
    message: /drop_all dropped [1-9]\d* IPv4 packets there/,
  },
  {
    name: "no bpf_fib_lookup: from_pod hands another node's pods to the stack",
    step: 'fib',
    failsCheck: 'nodes.fib-stack-skipped',
    plugin: FIB,
    edit: ['', ''],
    forward: ['long rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);', 'long rc = -1;'],
    message: /node a forwarded [1-9]\d+ and node b forwarded [1-9]\d+ IPv4 datagrams .* from_pod passed them on/,
  },
  {
    name: "bpf_fib_lookup's result ignored: packets for the node itself are redirected back out of the pod's veth",
    step: 'fib',
    failsCheck: 'nodes.pod-to-node',
    plugin: FIB,
    edit: ['', ''],
    forward: [
      '\tif (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)\n\t\treturn TC_ACT_OK;\n',
      '\t(void)rc;\n',
    ],
    message:
      /ping from the pod \(10\.243\.1\.\d+\) to its node a \(10\.98\.0\.\d+\) got no reply.*FORWARDED, to another node: bpf_fib_lookup, bpf_redirect_neigh/,
    hint: /result code was not honoured/,
  },
  {
    name: "fib.tot_len from the IP header: TCP's 64 KiB GSO packets get FRAG_NEEDED and go through the stack",
    step: 'fib',
    failsCheck: 'nodes.fib-stack-skipped',
    plugin: FIB,
    edit: ['', ''],
    forward: [
      '.ifindex = skb->ingress_ifindex};',
      '.ifindex = skb->ingress_ifindex, .tot_len = bpf_ntohs(ip->tot_len)};',
    ],
    message: /forwarded [1-9]\d+ .*IPv4 datagrams/,
  },
]

describe("lab 5 checks: each step's reference passes, every mutant fails with the right check", () => {
  const h = labHarness(5, {tag: 'l5', subnet: '10.242.0.0/24'})
  const workspace = (name: string, plugin: string, mtu: boolean, step3?: {noBridge: boolean; forward: string}) =>
    h.workspace(name, {
      ebpfcni: plugin,
      '10-ebpfcni.conf': JSON.stringify({
        ...h.config,
        ...(mtu ? {mtu: MTU_CONF.mtu} : {}),
        ...(step3?.noBridge ? {noBridge: true} : {}),
      }),
      ...(step3 ? {'forward.bpf.c': step3.forward} : {}),
    })

  beforeAll(() => h.setup())
  afterAll(() => h.teardown())

  it('each reference passes its step; the step 4 reference passes every check of steps 1-4 (step 5: below); nothing is left', async () => {
    const routes = await h.check(workspace('routes', ROUTES, false), 'routes')
    expect(
      routes.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(routes.checks, null, 1),
    ).toEqual([])
    const overlay = await h.check(workspace('overlay', OVERLAY, true), 'overlay')
    expect(
      overlay.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(overlay.checks, null, 1),
    ).toEqual([])
    const nobridge = await h.check(
      workspace('nobridge', NOBRIDGE, true, {noBridge: true, forward: FORWARD}),
      'nobridge',
    )
    expect(
      nobridge.checks.filter((c) => c.status !== 'pass'),
      JSON.stringify(nobridge.checks, null, 1),
    ).toEqual([])
    const all = await h.check(workspace('fib', FIB, true, {noBridge: true, forward: FIB_FORWARD}))
    // Step 5 moves from_pod onto a tcx link, which step 4's plugin does not: its checks are proven below.
    const modern = new Set(getLab(5).steps.find((s) => s.id === 'modern-attach')?.checks ?? [])
    expect(
      all.checks.filter((c) => c.status !== 'pass' && !modern.has(c.id)),
      JSON.stringify(all.checks, null, 1),
    ).toEqual([])
    expect(all.checks.map((c) => c.id).sort()).toEqual([...new Set(getLab(5).steps.flatMap((s) => s.checks))].sort())
    await h.settle()
    expect(await h.snapshot()).toEqual(h.before())
  }, 180_000)

  for (const m of MUTANTS) {
    it(`mutant "${m.name}" fails ${m.failsCheck} (step ${m.step})`, async () => {
      expect(m.plugin.includes(m.edit[0]), `anchor missing: ${m.edit[0]}`).toBe(true)
      if (m.forward)
        expect(
          (m.plugin === FIB ? FIB_FORWARD : FORWARD).includes(m.forward[0]),
          `anchor missing: ${m.forward[0]}`,
        ).toBe(true)
      const source = m.step === 'fib' && m.plugin === FIB ? FIB_FORWARD : FORWARD
      const step3 =
        m.step === 'nobridge' || m.step === 'fib'
          ? {noBridge: m.noBridge ?? true, forward: m.forward ? source.replace(m.forward[0], m.forward[1]) : source}
          : undefined
      const plugin = m.plugin.replace(m.edit[0], m.edit[1])
      const report = await h.check(workspace(m.name, plugin, Boolean(m.mtu) || Boolean(step3), step3), m.step)
      const target = report.checks.find((c) => c.id === m.failsCheck)
      expect(target?.status, JSON.stringify(report.checks, null, 1)).toBe('fail')
      expect(report.passed).toBe(false)
      // The first check to fail is the one for this mistake: an earlier one would send the learner elsewhere.
      expect(report.checks.find((c) => c.status === 'fail')?.id, JSON.stringify(report.checks, null, 1)).toBe(
        m.failsCheck,
      )
      expect(target!.message).toMatch(m.message)
      expect(target!.hint).toBeTruthy()
      if (m.hint) expect(target!.hint).toMatch(m.hint)
      await h.settle()
      expect(await h.snapshot(), `mutant ${m.name} left host objects`).toEqual(h.before())
    }, 120_000)
  }
})

describe('ebpfcni node: a cluster by hand', () => {
  const t = tempStateDir()
  const cli = cliRunner({EBPFCNI_STATE_DIR: t.dir, CI: 'true'})
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    t.cleanup()
  })

  it('node add, pod add --node, node list --strict, and reset leaves nothing', async () => {
    // `ebpfcni node` drives the one cluster of the machine (ebpfcni-node-*): never touch a learner's.
    const existing = await cli(['node', 'list', '--json'])
    expect(existing.exitCode, existing.stderr).toBe(0)
    if (
      (JSON.parse(existing.stdout) as {nodes: unknown[]}).nodes.length ||
      (await hostSnapshot()).links.includes('ebpfcni-ul')
    )
      throw new Error(
        'a simulated cluster exists on this machine (ebpfcni node list): remove it (ebpfcni node del --all) before the suite',
      )
    const bin = join(t.dir, 'bin')
    mkdirSync(bin, {recursive: true})
    writeFileSync(join(bin, 'ebpfcni'), OVERLAY, {mode: 0o755})
    const conf = join(t.dir, 'net.conf')
    writeFileSync(
      conf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'ebpfcni',
        type: 'ebpfcni',
        podcidr: '10.10.0.0/24',
        mtu: 1450,
        bridge: 'cbr0',
      }),
    )
    const add = await cli(['node', 'add', 'a', 'b'])
    expect(add.exitCode, add.stderr).toBe(0)
    expect(add.stdout).toMatch(/node a: netns ebpfcni-node-a, pods 10\.244\.1\.0\/24, underlay 10\.99\.0\.1/)
    expect((await cli(['node', 'add', 'a'])).stderr).toMatch(/a node named "a" already exists/)
    expect((await cli(['node', 'add', 'Bad_Name'])).stderr).toMatch(/must be 1-8 lowercase letters or digits/)
    for (const [pod, node] of [
      ['na1', 'a'],
      ['nb1', 'b'],
    ]) {
      const r = await cli(['pod', 'add', pod, '--node', node, '--config', conf, '--cni-path', bin])
      expect(r.exitCode, r.stderr).toBe(0)
      expect(r.stdout).toMatch(
        new RegExp(`pod ${pod} \\(netns on node ${node}\\) ip 10\\.244\\.${node === 'a' ? 1 : 2}\\.`),
      )
      expect(r.stderr).toMatch(/same as: ip netns add ebpfcni-\w+ && nsenter --net=\/run\/netns\/ebpfcni-node-/)
    }
    expect((await cli(['pod', 'add', 'nx', '--node', 'zz', '--config', conf])).stderr).toMatch(/no node named "zz"/)
    expect((await cli(['pod', 'add', 'nx', '--node', 'a', '--runtime', 'podman', '--config', conf])).stderr).toMatch(
      /--node works with the netns runtime/,
    )
    const strict = await cli(['node', 'list', '--strict', '--json'])
    expect(JSON.parse(strict.stdout).underlay.strict).toBe(true)
    const probe = await cli(['pod', 'probe', 'na1', 'nb1'])
    expect(probe.exitCode, probe.stdout + probe.stderr).toBe(0)
    const listed = JSON.parse((await cli(['node', 'list', '--json'])).stdout) as {
      nodes: Array<{name: string; pods: string[]}>
      underlay: {vxlan: string}
    }
    expect(listed.nodes.map((n) => [n.name, n.pods.length])).toEqual([
      ['a', 1],
      ['b', 1],
    ])
    expect(Number(listed.underlay.vxlan)).toBeGreaterThan(0)
    // topology draws the nodes with their pods (and not those pods as pods of this machine).
    const topo = JSON.parse((await cli(['topology', '--json'])).stdout) as {
      nodes: Array<{name: string; pods: Array<{name: string}>}>
      unbridged: Array<{name: string}>
    }
    expect(topo.nodes.map((n) => [n.name, n.pods.map((p) => p.name)])).toEqual([
      ['a', ['na1']],
      ['b', ['nb1']],
    ])
    expect(topo.unbridged.map((p) => p.name)).not.toContain('na1')
    const reset = await cli(['reset', '--all', '--yes'])
    expect(reset.exitCode, reset.stderr).toBe(0)
    expect(await hostSnapshot()).toEqual(before)
  }, 120_000)

  it("observe --node: what step 4's from_pod and from_node decided, as flows with pods, reasons and interfaces", async () => {
    const ws = join(t.dir, 'ws')
    const bin = join(t.dir, 'bin-fib')
    mkdirSync(ws, {recursive: true})
    mkdirSync(bin, {recursive: true})
    writeFileSync(join(bin, 'ebpfcni'), FIB, {mode: 0o755})
    writeFileSync(join(ws, 'forward.bpf.c'), FIB_FORWARD)
    const conf = join(ws, '10-ebpfcni.conf')
    writeFileSync(conf, read('solution/fib/10-ebpfcni.conf'))
    const wcli = cliRunner({EBPFCNI_STATE_DIR: t.dir, EBPFCNI_WORKSPACE: ws, CI: 'true'})
    const built = await wcli(['bpf', 'build', join(ws, 'forward.bpf.c'), '-o', join(ws, 'forward.o')])
    expect(built.exitCode, built.stderr).toBe(0)
    try {
      expect((await wcli(['node', 'add', 'a', 'b'])).exitCode).toBe(0)
      // No pod yet: the plugin has not loaded forward.bpf.c on node a, so there is no ring to read.
      const none = await wcli(['observe', '--node', 'a'])
      expect(none.exitCode).toBe(2)
      expect(none.stderr).toMatch(/node a has no flow_events ring .*: its plugin has not loaded forward\.bpf\.c yet/)
      expect(none.stderr).toMatch(/pod add NAME --node a/)
      expect((await wcli(['observe', '--node', 'zz'])).stderr).toMatch(/no node named "zz"/)
      const ips: Record<string, string> = {}
      for (const [pod, node] of [
        ['oa1', 'a'],
        ['oa2', 'a'],
        ['ob1', 'b'],
      ]) {
        const r = await wcli(['pod', 'add', pod, '--node', node, '--config', conf, '--cni-path', bin])
        expect(r.exitCode, r.stderr).toBe(0)
        ips[pod] = /ip (10\.\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] as string
      }
      expect((await wcli(['pod', 'probe', 'oa1', 'oa2'])).exitCode).toBe(0)
      expect((await wcli(['pod', 'probe', 'oa1', 'ob1'])).exitCode).toBe(0)
      type NodeFlow = {
        program: string
        verdict: string
        reason: string
        interface?: string
        src: {pod?: string}
        dst: {pod?: string}
      }
      const flowsOn = async (node: string): Promise<NodeFlow[]> => {
        const r = await wcli(['observe', '--node', node, '--last', '500', '--json'])
        expect(r.exitCode, r.stderr).toBe(0)
        return r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as NodeFlow)
          .filter((f) => f.program)
      }
      const onA = await flowsOn('a')
      const has = (flows: NodeFlow[], want: Partial<NodeFlow> & {from: string; to: string}) =>
        flows.some(
          (f) =>
            f.src.pod === want.from &&
            f.dst.pod === want.to &&
            (want.program === undefined || f.program === want.program) &&
            (want.verdict === undefined || f.verdict === want.verdict) &&
            (want.reason === undefined || f.reason === want.reason),
        )
      expect(
        has(onA, {from: 'oa1', to: 'oa2', program: 'from_pod', verdict: 'FORWARDED', reason: 'redirect-peer'}),
        JSON.stringify(onA.slice(-10)),
      ).toBe(true)
      expect(
        has(onA, {from: 'oa1', to: 'ob1', program: 'from_pod', verdict: 'FORWARDED', reason: 'redirect-neigh'}),
        JSON.stringify(onA.slice(-10)),
      ).toBe(true)
      // A departure is named by its interface in node a's namespace (this machine's has no such link).
      const nodeALinks = JSON.parse(
        (await execa('ip', ['-n', 'ebpfcni-node-a', '-j', 'link', 'show'])).stdout,
      ) as Array<{
        ifname: string
      }>
      const veths = nodeALinks.map((l) => l.ifname).filter((n) => !['lo', 'eth0', 'vxlan0'].includes(n))
      expect(veths).toContain(onA.find((f) => f.src.pod === 'oa1')?.interface)
      const onB = await flowsOn('b')
      const arrival = onB.find((f) => f.src.pod === 'oa1' && f.dst.pod === 'ob1' && f.program === 'from_node')
      expect(arrival, JSON.stringify(onB.slice(-10))).toMatchObject({verdict: 'FORWARDED', reason: 'redirect-peer'})
      expect(['vxlan0', 'eth0']).toContain(arrival?.interface)
      // Lab 4's rule in node a's policy map: the drop is a flow too, DROPPED, denied.
      const hex = (ip: string) => ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))
      const [a1, a2] = [ips.oa1, ips.oa2]
      const rule = ['map', 'update', 'pinned', '/sys/fs/bpf/ebpfcni/a/policy', 'key', 'hex', ...hex(a1), ...hex(a2)]
      await execa('bpftool', [...rule, 'value', 'hex', '01', '00', '00', '00'])
      expect((await wcli(['pod', 'probe', 'oa1', 'oa2', '--tcp'])).exitCode).not.toBe(0)
      const denied = await wcli(['observe', '--node', 'a', '--last', '50', '--verdict', 'dropped'])
      expect(denied.stdout).toMatch(/oa1:\d+ -> oa2:80 TCP SYN\s+from_pod\s+DROPPED\s+denied by a rule for every port/)
    } finally {
      await wcli(['reset', '--all', '--yes'])
    }
    expect(await hostSnapshot()).toEqual(before)
  }, 180_000)
})

// Step 5 on a kernel with tcx (6.6+; the skips below it are in modern-skips.test.ts). The plugin
// starts ebpfcni itself for the link: the one in this checkout (a launcher first on PATH), with
// this test's state dir, so its ledger entries are the run's.
describe.skipIf(process.getuid?.() !== 0 || !probeTcx().ok)(
  'lab 5 step 5 (modern attach): the reference passes; from_pod on clsact, or a counter that does not run beside it, fails',
  () => {
    const h = labHarness(5, {tag: 'l5m', subnet: '10.241.0.0/24'})
    const saved = {path: process.env.PATH, state: process.env.EBPFCNI_STATE_DIR}
    const workspace = (name: string, plugin: string) =>
      h.workspace(name, {
        ebpfcni: plugin,
        '10-ebpfcni.conf': JSON.stringify({...h.config, mtu: MTU_CONF.mtu, noBridge: true}),
        'forward.bpf.c': FIB_FORWARD,
      })
    // A link outlives a run only pinned (the snapshot reads /sys/fs/bpf) or held by a process: the
    // checks run in this one, and the plugin's calls end. The kernel's own list (mprogLinks) counts
    // every namespace's links, another test file's at the same time too, so it proves nothing here.
    const linkFdsHeld = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:bpf_link'
        } catch {
          return false // the fd readdir itself used, closed since
        }
      }).length

    beforeAll(async () => {
      await h.setup()
      const shim = join(h.t.dir, 'shim')
      mkdirSync(shim, {recursive: true})
      writeFileSync(join(shim, 'ebpfcni'), `#!/bin/sh\nexec node ${join(repoRoot, 'bin/run.js')} "$@"\n`)
      chmodSync(join(shim, 'ebpfcni'), 0o755)
      process.env.PATH = `${shim}:${saved.path ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`
      process.env.EBPFCNI_STATE_DIR = h.t.dir
    })
    afterAll(async () => {
      process.env.PATH = saved.path
      if (saved.state === undefined) delete process.env.EBPFCNI_STATE_DIR
      else process.env.EBPFCNI_STATE_DIR = saved.state
      counterPlacement.at = 'first'
      await h.teardown()
    })

    it('the reference passes step 5 (netkit passes, or is skipped for what the machine lacks); no link, pin or entry is left', async () => {
      const links = linkFdsHeld()
      const r = await h.check(workspace('modern', MODERN), 'modern-attach')
      const by = Object.fromEntries(r.checks.map((c) => [c.id, c]))
      expect(by['nodes.tcx-owned']?.status, JSON.stringify(r.checks, null, 1)).toBe('pass')
      expect(by['nodes.tcx-owned']?.message).toMatch(
        /0 of 50 pings .* reached the isolated .*; tcx link \d+ still runs from_pod/,
      )
      expect(by['nodes.tcx-coexist']?.status, JSON.stringify(r.checks, null, 1)).toBe('pass')
      expect(by['nodes.tcx-coexist']?.message).toMatch(
        /runs count_first → from_pod; the counter saw [5-9]\d+ echo requests/,
      )
      const nk = by['nodes.netkit']
      if (nk?.status === 'skip')
        expect(nk).toMatchObject({
          unsupported: true,
          message: expect.stringMatching(/netkit cannot run on this machine: /),
        })
      else expect(nk?.status).toBe('pass')
      expect(r.passed).toBe(true)
      await h.settle()
      expect(await h.snapshot()).toEqual(h.before())
      expect(linkFdsHeld()).toBe(links)
      // The installed plugin and config stay recorded (as every lab's check leaves them); nothing else.
      expect(
        h
          .ledger()
          .entries()
          .filter((e) => e.kind !== 'file'),
      ).toEqual([])
    }, 180_000)

    it('mutant "from_pod still a clsact filter (step 4\'s attach_from_pod)" fails nodes.tcx-owned, naming clsact', async () => {
      const r = await h.check(workspace('clsact', FIB), 'modern-attach')
      const owned = r.checks.find((c) => c.id === 'nodes.tcx-owned')
      expect(owned?.status, JSON.stringify(r.checks, null, 1)).toBe('fail')
      expect(owned!.message).toMatch(
        /50 of 50 pings from 10\.243\.1\.\d+ reached 10\.243\.1\.\d+, which a deny rule isolates from it, after a foreign "tc qdisc del dev \S+ clsact" on node a: from_pod was a clsact filter and went with the qdisc/,
      )
      expect(owned!.hint).toMatch(/not a clsact filter: ebpfcni bpf attach "\$pin_dir\/from_pod" .* --tcx/)
      expect(r.checks.find((c) => c.id === 'nodes.tcx-coexist')).toMatchObject({status: 'skip'})
      expect(r.passed).toBe(false)
      await h.settle()
      expect(await h.snapshot()).toEqual(h.before())
    }, 180_000)

    for (const [at, message] of [
      ['last', /ebpfcni's counter saw 0 of the 50 echo requests \(\S+'s tcx ingress runs from_pod → count_first\)/],
      [
        'replace',
        /50 of 50 pings from .* reached the isolated .* \(\S+'s tcx ingress runs count_first\): from_pod no longer ran/,
      ],
    ] as const)
      it(`mutant "counter placed ${at === 'last' ? 'after from_pod' : "by swapping it into from_pod's own link"}" fails nodes.tcx-coexist`, async () => {
        counterPlacement.at = at
        try {
          const r = await h.check(workspace(`coexist-${at}`, MODERN), 'modern-attach')
          const co = r.checks.find((c) => c.id === 'nodes.tcx-coexist')
          expect(co?.status, JSON.stringify(r.checks, null, 1)).toBe('fail')
          expect(co!.message).toMatch(message)
          expect(co!.hint).toBeTruthy()
        } finally {
          counterPlacement.at = 'first'
        }
        await h.settle()
        expect(await h.snapshot()).toEqual(h.before())
      }, 180_000)
  },
)
