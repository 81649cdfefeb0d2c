import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {existsSync, writeFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {tempStateDir, requireBuilt, requireRoot, repoRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import {fakeKubeApi} from '../helpers/fake-kube-api.js'
import {preparePolicyNode} from '../helpers/policy-node.js'

const LAB4 = join(repoRoot, 'labs/04-security-policy')
const FIX = join(repoRoot, 'test/fixtures/policies')

describe('CLI: policy deny/allow/remove/list/apply/delete/watch on real pods; bad NetworkPolicies refused whole; reset', () => {
  const t = tempStateDir()
  const id = uniq()
  const pinDir = `/sys/fs/bpf/ebpfcni-tp${id}`
  const bridge = `pl${id}`
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env, 60_000)
  const pin = ['--pin-dir', pinDir]
  const conf = join(t.dir, 'net.d', '10-ebpfcni.conf')
  const pod = (name: string, ...more: string[]) =>
    cli(['pod', 'add', name, '--config', conf, '--cni-path', join(t.dir, 'bin'), ...more])
  const reaches = async (from: string, to: string) => (await cli(['pod', 'probe', from, to])).exitCode === 0
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    before = await hostSnapshot()
    await preparePolicyNode(cli, {dir: t.dir, name: `pol${id}`, bridge, podcidr: '10.248.0.0/24', pinDir})
  })
  afterAll(async () => {
    await cli(['reset', '--yes'])
    await deleteLinkQuietly(bridge)
    t.cleanup()
  })

  it("without lab 4's maps: exit 2 and how to load them", async () => {
    const r = await cli(['policy', 'list', '--pin-dir', join(pinDir, 'nothing-here')])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/no policy map is pinned/)
    expect(r.stderr).toMatch(/hint: load lab 4's program/)
  })

  it('deny drops sleep → httpbin (one direction), allow and remove restore it; list names the pods', async () => {
    for (const [name, ...flags] of [
      ['httpbin', '--label', 'app=httpbin'],
      ['sleep', '--label', 'app=sleep', '--workload', 'sleep'],
      ['other'],
    ]) {
      const r = await pod(name, ...flags)
      expect(r.exitCode, r.stderr).toBe(0)
    }
    expect(await reaches('sleep', 'httpbin')).toBe(true)
    const deny = await cli(['policy', 'deny', 'sleep', 'httpbin', ...pin])
    expect(deny.exitCode, deny.stderr).toBe(0)
    expect(deny.stdout).toMatch(/deny sleep → httpbin \(ip-pair design; 1 entry written/)
    expect(await reaches('sleep', 'httpbin')).toBe(false)
    expect(await reaches('other', 'httpbin')).toBe(true)
    const list = JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout) as {
      rules: Array<{from: string; to: string; verdict: string}>
    }
    expect(list.rules).toEqual([
      {
        map: 'policy',
        from: expect.stringMatching(/^sleep \(10\.248\.0\.\d+\)$/),
        to: expect.stringMatching(/^httpbin \(/),
        verdict: 'deny',
      },
    ])
    expect((await cli(['policy', 'allow', 'sleep', 'httpbin', ...pin])).exitCode).toBe(0)
    expect(await reaches('sleep', 'httpbin')).toBe(true)
    const ips = new Map(
      (JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{name: string; ip: string}>).map((p) => [
        p.name,
        p.ip,
      ]),
    )
    const [s, h] = [ips.get('sleep')!, ips.get('httpbin')!]
    const esc = (x: string) => x.replace(/\./g, '\\.')
    const pair = esc(`${s} → ${h} in policy`)
    const removed = await cli(['policy', 'remove', 'sleep', 'httpbin', ...pin])
    expect(removed.exitCode, removed.stderr).toBe(0)
    expect(removed.stdout).toMatch(
      new RegExp(`removed the rule allow sleep → httpbin: its entry ${pair} \\(allow\\) is deleted$`, 'm'),
    )
    expect(JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).rules).toEqual([])

    // Walked: "0 entries removed". A rule gone already: exit 2, and the rules that are there.
    const again = await cli(['policy', 'remove', 'sleep', 'httpbin', ...pin])
    expect(again.exitCode).toBe(2)
    expect(again.stderr).toMatch(/no hand-written rule from sleep to httpbin: nothing was removed/)
    expect(again.stderr).toMatch(/hint: the store holds no hand-written rule/)
    // The same pair by name and by address: removing one says the other keeps the entry.
    expect((await cli(['policy', 'deny', 'sleep', 'httpbin', ...pin])).exitCode).toBe(0)
    expect((await cli(['policy', 'deny', s, h, ...pin])).exitCode).toBe(0)
    const kept = await cli(['policy', 'remove', 'sleep', 'httpbin', ...pin])
    expect(kept.exitCode, kept.stderr).toBe(0)
    expect(kept.stdout).toMatch(
      new RegExp(`its entry ${pair} stays deny: the rule deny ${esc(s)} → ${esc(h)} writes the same pair$`, 'm'),
    )
    expect(await reaches('sleep', 'httpbin')).toBe(false)
    const wrong = await cli(['policy', 'remove', 'httpbin', 'sleep', ...pin])
    expect(wrong.exitCode).toBe(2)
    expect(wrong.stderr).toContain(`hint: the rules in the store: deny ${s} → ${h}`)
    // The entry gone from the maps meanwhile (as a program loaded again has empty maps): said so.
    const dump = JSON.parse(
      (await execa('bpftool', ['-j', 'map', 'dump', 'pinned', join(pinDir, 'policy')], {timeout: 10_000})).stdout,
    ) as Array<{key: string[]}>
    expect(dump).toHaveLength(1)
    await execa(
      'bpftool',
      [
        'map',
        'delete',
        'pinned',
        join(pinDir, 'policy'),
        'key',
        'hex',
        ...dump[0].key.map((b) => b.replace(/^0x/, '')),
      ],
      {timeout: 10_000},
    )
    const absent = await cli(['policy', 'remove', s, h, ...pin])
    expect(absent.exitCode, absent.stderr).toBe(0)
    expect(absent.stdout).toMatch(new RegExp(`the maps held no entry for it \\(${pair}\\): nothing to delete there`))
    // Deleted by hand, not by a reload: the pin's time says so, and no reload is named as the cause.
    expect(absent.stdout).toMatch(
      /\(policy was pinned at \d\d:\d\d:\d\d, before the store last wrote its entries at \d\d:\d\d:\d\d: not emptied by a reload since\)/,
    )
    expect(absent.stdout).not.toMatch(/loaded again/)
    expect(JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).stored.rules).toEqual([])
    expect(await reaches('sleep', 'httpbin')).toBe(true)
    const unknown = await cli(['policy', 'deny', 'nobody', 'httpbin', ...pin])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(/"nobody" is neither a pod nor an IPv4 address/)
    expect(JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).stored.rules).toEqual([]) // nothing half-stored
  }, 180_000)

  it('unsupported or malformed NetworkPolicies are refused, naming the field; nothing is applied', async () => {
    // Each refusal says what to do once: a hint only where the message does not already say it.
    const cases: Array<[string, RegExp, RegExp | undefined]> = [
      ['egress.yaml', /spec\.egress: egress rules are not supported/, undefined],
      ['ipblock.yaml', /spec\.ingress\[0\]\.from\[0\]\.ipBlock: ipBlock is not supported/, undefined],
      [
        'namespace.yaml',
        /spec\.ingress\[0\]\.from\[1\]\.namespaceSelector: namespaceSelector is not supported/,
        undefined,
      ],
      ['ports.yaml', /spec\.ingress\[0\]\.ports\[0\]\.port: named ports \("http"\) are not supported/, undefined],
      ['wrong-kind.yaml', /apiVersion: is "v1", expected networking\.k8s\.io\/v1/, /starts with apiVersion: /],
      // file:line:col, the parser's reason, then its code frame with ^ under the column (not a dangling colon).
      [
        'malformed.yaml',
        /malformed\.yaml:4:1: is not valid YAML: Flow map .* end with a \}\nmetadata: \{name: broken\nspec: \[\n\^\n/,
        /YAML nests by indentation/,
      ],
    ]
    for (const [file, message, hint] of cases) {
      const r = await cli(['policy', 'apply', join(FIX, file), ...pin])
      expect(r.exitCode, file).toBe(2)
      expect(r.stderr, file).toMatch(message)
      expect(r.stderr, file).not.toMatch(/:\s*\n(hint|$)/) // no message ends in a colon
      expect(r.stderr.match(/^hint: /gm)?.length ?? 0, file).toBe(hint ? 1 : 0)
      if (hint) expect(r.stderr, file).toMatch(new RegExp(`hint: .*${hint.source}`))
      expect(r.stderr, file).not.toMatch(/hint: supported: /)
    }
    // A field the lab does not know at all: the hint lists what is supported.
    writeFileSync(
      join(t.dir, 'unknown.yaml'),
      readFileSync(join(FIX, 'egress.yaml'), 'utf8').replace('  egress:', '  egres:'),
    )
    const unknown = await cli(['policy', 'apply', join(t.dir, 'unknown.yaml'), ...pin])
    expect(unknown.exitCode).toBe(2)
    expect(unknown.stderr).toMatch(
      /spec\.egres: is not supported by this lab's datapath\nhint: supported: metadata\.name/,
    )
    const list = JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout)
    expect(list.stored.policies).toEqual([])
    expect(list.rules).toEqual([])
    expect(list.isolated).toEqual([])
  }, 60_000)

  it('apply warns of a from selector that matches no pod; bpf maps decodes the port rule and conntrack keys as policy list does, raw bytes beside', async () => {
    const file = join(t.dir, 'ports-and-typo.yaml')
    writeFileSync(
      file,
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: {name: httpbin-port-80}',
        'spec:',
        '  podSelector: {matchLabels: {app: httpbin}}',
        '  ingress:',
        '    - from: [{podSelector: {matchLabels: {app: sleep}}}, {podSelector: {matchLabels: {app: slep}}}]',
        '      ports: [{protocol: TCP, port: 80}]',
        '',
      ].join('\n'),
    )
    const applied = await cli(['policy', 'apply', file, ...pin])
    expect(applied.exitCode, applied.stderr).toBe(0)
    expect(applied.stderr).toMatch(
      /warning: spec\.ingress\[0\]\.from\[1\]\.podSelector app=slep matches no pod: it lets nobody in until such a pod exists/,
    )
    expect(applied.stderr).not.toMatch(/from\[0\]/) // app=sleep matches the sleep pod
    expect(JSON.parse((await cli(['policy', 'apply', file, '--json', ...pin])).stdout).unmatched).toHaveLength(1)
    expect(await reaches('sleep', 'httpbin')).toBe(true) // an HTTP probe: TCP 80, and conntrack records it

    const ips = Object.fromEntries(
      (JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{name: string; ip: string}>).map((p) => [
        p.name,
        p.ip,
      ]),
    )
    const rules = JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).rules as Array<{
      map: string
      from: string
      to: string
    }>
    expect(rules).toContainEqual(
      expect.objectContaining({
        map: 'policy_ports',
        from: `sleep (${ips.sleep})`,
        to: `httpbin (${ips.httpbin}) tcp/80`,
      }),
    )
    type Dump = {type: string; entries: Array<{key: Record<string, unknown>; keyHex: string; keyBytes: string}>}
    const ports = JSON.parse((await cli(['bpf', 'maps', 'policy_ports', '--json', ...pin])).stdout) as Dump
    const hex = (ip: string) => Buffer.from(ip.split('.').map(Number)).toString('hex')
    expect(ports.entries).toContainEqual({
      key: {src: ips.sleep, dst: ips.httpbin, dport: 80, proto: 'tcp'},
      value: 2,
      keyHex: `${hex(ips.sleep)}${hex(ips.httpbin)}00500600`,
      keyBytes: `${hex(ips.sleep)} ${hex(ips.httpbin)} 0050 06 00`,
      valueHex: '02000000',
      valueBytes: '02000000',
    })
    const text = await cli(['bpf', 'maps', 'policy_ports', ...pin])
    expect(text.stdout).toMatch(
      new RegExp(
        `src=${ips.sleep} dst=${ips.httpbin} dport=80 proto=tcp\\s+2\\s+${hex(ips.sleep)} ${hex(ips.httpbin)} 0050 06 00`,
      ),
    )
    expect(text.stdout).not.toMatch(/dport=20480|src=\d{5,}/)
    // conntrack: the probe's flow, sleep's ephemeral port to httpbin's 80, as the packet carries them.
    const ct = JSON.parse((await cli(['bpf', 'maps', 'conntrack', '--json', ...pin])).stdout) as Dump
    expect(ct.entries.map((e) => e.key)).toContainEqual({
      saddr: ips.sleep,
      daddr: ips.httpbin,
      sport: expect.any(Number),
      dport: 80,
      proto: 'tcp',
    })
    // The ring buffer is named, not "27"; a ring has no entries to dump.
    const listed = await cli(['bpf', 'maps', ...pin])
    expect(listed.stdout).toMatch(/flow_events\s+ringbuf\s/)
    expect(listed.stdout).not.toMatch(/\s27\s/)
    // A key of the wrong shape is refused with what it takes.
    const badKey = await cli(['bpf', 'maps', 'policy_ports', '--key', ips.sleep, ...pin])
    expect(badKey.exitCode).toBe(2)
    expect(badKey.stderr).toMatch(/key ".*" is not 12 bytes\nhint: give 24 hex digits/)

    expect((await cli(['policy', 'delete', 'httpbin-port-80', ...pin])).exitCode).toBe(0)
    expect(JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).rules).toEqual([])
  }, 60_000)

  it("policy apply says which pods it attached to_pod to; bpf load --replace moves the pods' to_pod to the new program, as check's load does", async () => {
    const tcIds = async () =>
      (
        JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{
          name: string
          bpf: Array<{hook: string; id: number}>
        }>
      )
        .filter((p) => p.name === 'httpbin' || p.name === 'sleep')
        .map((p) => p.bpf.find((b) => b.hook === 'tc-egress')?.id)
    const pinnedId = async () =>
      (
        JSON.parse((await execa('bpftool', ['-j', 'prog', 'show', 'pinned', join(pinDir, 'to_pod')])).stdout) as {
          id: number
        }
      ).id
    const file = join(LAB4, 'policy.yaml')
    const first = await cli(['policy', 'apply', file, ...pin])
    expect(first.exitCode, first.stderr).toBe(0)
    expect(first.stdout).toMatch(
      /to_pod attached to \d+ of \d+ pod\(s\)|to_pod: all \d+ pod\(s\) already run the pinned to_pod/,
    )
    const again = await cli(['policy', 'apply', file, ...pin])
    expect(again.stdout).toMatch(/to_pod: all \d+ pod\(s\) already run the pinned to_pod/)
    expect(await tcIds()).toEqual([await pinnedId(), await pinnedId()])
    // A reload (what check does before its pods) moves every to_pod of the old program to the new one.
    const reload = await cli(['bpf', 'load', join(t.dir, 'p.o'), '--pin-dir', pinDir, '--replace'])
    expect(reload.exitCode, reload.stderr).toBe(0)
    expect(reload.stdout).toMatch(/now runs the new to_pod \(TC egress\)/)
    const now = await pinnedId()
    expect(await tcIds()).toEqual([now, now])
    expect((await cli(['policy', 'delete', 'httpbin-allow-sleep', ...pin])).exitCode).toBe(0)
  }, 60_000)

  it('apply the original policy; the controller lets a new sleep pod in, cleans up after a deleted one, follows edits of the file; delete restores', async () => {
    // Applied from a copy: the controller watches the file a policy came from.
    const file = join(t.dir, 'policy.yaml')
    const original = readFileSync(join(LAB4, 'policy.yaml'), 'utf8')
    writeFileSync(file, original)
    const applied = await cli(['policy', 'apply', file, ...pin])
    expect(applied.exitCode, applied.stderr).toBe(0)
    expect(await reaches('sleep', 'httpbin')).toBe(true)
    expect(await reaches('other', 'httpbin')).toBe(false)

    const watch = await cli(['policy', 'watch', '--background', ...pin])
    expect(watch.exitCode, watch.stderr).toBe(0)
    expect((await pod('sleep2', '--label', 'app=sleep', '--workload', 'sleep')).exitCode).toBe(0)
    let ok = false
    for (let i = 0; i < 20 && !ok; i++) ok = await reaches('sleep2', 'httpbin')
    expect(ok, 'the new app=sleep pod never got through').toBe(true)
    const ip2 = (JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{name: string; ip: string}>).find(
      (p) => p.name === 'sleep2',
    )!.ip
    expect((await cli(['pod', 'del', 'sleep2'])).exitCode).toBe(0)
    let stale = true
    for (let i = 0; i < 30 && stale; i++) {
      const rules = JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).rules as Array<{
        from: string
        to: string
      }>
      stale = rules.some((r) => r.from.includes(`${ip2}`) || r.to.includes(`${ip2}`))
      if (stale) await new Promise((r) => setTimeout(r, 100))
    }
    expect(stale, `rules for the deleted pod's ${ip2} stayed`).toBe(false)
    const log = readFileSync(join(t.dir, 'logs', 'policy-controller.log'), 'utf8')
    expect(log).toMatch(/pods changed: \d+ written, \d+ removed/)

    // A broken edit keeps the last good policy; a good edit is applied without `policy apply`.
    writeFileSync(file, original.replace('podSelector:', 'podSelector: [oops'))
    for (
      let i = 0;
      i < 30 &&
      !/keeping the last good version/.test(readFileSync(join(t.dir, 'logs', 'policy-controller.log'), 'utf8'));
      i++
    )
      await new Promise((r) => setTimeout(r, 100))
    expect(readFileSync(join(t.dir, 'logs', 'policy-controller.log'), 'utf8')).toMatch(
      /is not valid YAML.*keeping the last good version/,
    )
    expect(await reaches('sleep', 'httpbin')).toBe(true)
    writeFileSync(file, original.replace('app: sleep', 'app: nobody'))
    let cut = false
    for (let i = 0; i < 30 && !cut; i++) cut = !(await reaches('sleep', 'httpbin'))
    expect(cut, 'editing the applied file to allow nobody did not cut sleep off').toBe(true)
    expect((await cli(['policy', 'watch', '--stop'])).stdout).toMatch(/stopped 1 controller/)

    expect((await cli(['policy', 'delete', 'httpbin-allow-sleep', ...pin])).exitCode).toBe(0)
    expect(await reaches('other', 'httpbin')).toBe(true)
  }, 90_000)

  it("on a cluster: NetworkPolicies from the Kubernetes API (kubectl proxy's shape) are enforced in their namespace only, and go when deleted", async () => {
    const api = await fakeKubeApi()
    const log = () => readFileSync(join(t.dir, 'logs', 'policy-controller.log'), 'utf8')
    const stored = async () =>
      JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout).stored.policies as string[]
    const until = async (what: string, done: () => Promise<boolean>) => {
      // Bounded by tries, not time: each try of a probe takes its own timeout; a log read is instant.
      for (let i = 0; i < 60; i++) {
        if (await done()) return
        await new Promise((r) => setTimeout(r, 250))
      }
      throw new Error(`never: ${what}`)
    }
    const spec = {
      podSelector: {matchLabels: {app: 'httpbin'}},
      policyTypes: ['Ingress'],
      ingress: [{from: [{podSelector: {matchLabels: {app: 'sleep'}}}]}],
    }
    try {
      const watch = await cli([
        'policy',
        'watch',
        '--background',
        '--policies',
        'kubernetes',
        '--api-server',
        api.url,
        '--resync',
        '1',
        ...pin,
      ])
      expect(watch.exitCode, watch.stderr).toBe(0)
      // In another namespace it selects none of these pods (theirs is "default"): other still reaches httpbin.
      api.policies = [{namespace: 'shop', name: 'httpbin-allow-sleep', spec}]
      await until('the policy of namespace shop stored', async () =>
        (await stored()).includes('k8s.shop.httpbin-allow-sleep'),
      )
      await until('the controller applied it', async () => /policy state changed: \d+ written/.test(log()))
      expect(await reaches('other', 'httpbin')).toBe(true)
      // In "default": other is cut off, sleep is not.
      api.policies = [{namespace: 'default', name: 'httpbin-allow-sleep', spec}]
      await until('other cut off from httpbin', async () => !(await reaches('other', 'httpbin')))
      expect(await reaches('sleep', 'httpbin')).toBe(true)
      // An egress policy is said to be unenforced, in the log, and changes nothing.
      api.policies.push({namespace: 'default', name: 'no-egress', spec: {podSelector: {}, policyTypes: ['Egress']}})
      await until('the egress policy reported', async () =>
        /not enforced: default\/no-egress: spec\.policyTypes: Egress/.test(log()),
      )
      expect(await reaches('sleep', 'httpbin')).toBe(true)
      // Deleted from the API: other reaches httpbin again.
      api.policies = []
      await until('other reaches httpbin again', () => reaches('other', 'httpbin'))
      expect(await stored()).not.toContain('k8s.default.httpbin-allow-sleep')
    } finally {
      await cli(['policy', 'watch', '--stop'])
      await api.close()
    }
  }, 120_000)

  it('reset removes pods, pins, the controller and the policy state; the host is as before', async () => {
    await cli(['policy', 'deny', 'other', 'httpbin', ...pin])
    expect(existsSync(join(t.dir, 'policy.json'))).toBe(true)
    const dry = await cli(['reset', '--dry-run'])
    expect(dry.stdout).toMatch(/forget the policy state/)
    expect((await cli(['reset', '--yes'])).exitCode).toBe(0)
    expect(existsSync(join(t.dir, 'policy.json'))).toBe(false)
    expect(existsSync(pinDir)).toBe(false)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  }, 60_000)
})
