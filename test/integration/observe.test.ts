import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireBuilt, requireRoot, uniq, cliRunner, cliBin} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import {nodeBinDir} from '../helpers/lab-harness.js'
import {prepareObserveNode} from '../helpers/policy-node.js'
import {objGet, testRun} from '../../src/bpf/object.js'
import {closeFd} from '../../src/bpf/ffi.js'
import {ipv4Tcp} from '../../src/bpf/frames.js'
import type {Flow} from '../../src/observe/flow-names.js'
import {NETNS_PREFIX} from '../../src/pods/netns-runtime.js'

// `ebpfcni observe` as an attendee uses it: lab 4's NetworkPolicy program loaded, a policy
// applied, real pods, real probes; then what observe prints, a second observe, a reload, a
// program that writes records of another size, no ring at all, Ctrl-C. The page (--web) in
// Chromium: observe-page.test.ts.

describe('ebpfcni observe: flow events from the datapath', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `ob${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-ob${id}`
  const oddPinDir = `/sys/fs/bpf/ebpfcni-obx${id}`
  // Pod names are netns names: unique, so a learner's own pods on the machine are never touched.
  const [W, C, O] = [`web${id}`, `cli${id}`, `oth${id}`]
  // Install targets of its own: reset --all would otherwise find the machine's 10-ebpfcni.conf and
  // remove its bridge and veths, which belong to whoever else uses this machine.
  const env = {
    EBPFCNI_STATE_DIR: t.dir,
    CI: 'true',
    EBPFCNI_CNI_BIN_DIR: join(t.dir, 'bin'),
    EBPFCNI_CNI_CONF_DIR: join(t.dir, 'net.d'),
  }
  const cli = cliRunner(env)
  const running: ResultPromise[] = []
  let before: Awaited<ReturnType<typeof hostSnapshot>>
  let web: {ip: string}
  let other: {ip: string}
  /** Lab 4's reference, built: what a reload loads again. */
  let lab4Object = ''

  /** observe in the background, its stdout lines collected as they come. */
  function observeBg(args: string[]) {
    const p = execa('node', [cliBin, 'observe', '--pin-dir', pinDir, ...args], {
      reject: false,
      env,
      stdin: 'ignore',
      timeout: 120_000,
    })
    running.push(p)
    const out: string[] = []
    const err: string[] = []
    p.stdout?.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)))
    p.stderr?.on('data', (d: Buffer) => err.push(d.toString()))
    return {p, out, err}
  }
  const flowsIn = (lines: string[]): Flow[] =>
    lines.flatMap((l) => {
      const o = JSON.parse(l) as Flow & {notice?: string}
      return o.verdict ? [o] : []
    })
  const until = async (what: string, cond: () => boolean, ms = 20_000) => {
    const end = Date.now() + ms
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const ownerFile = () => join(t.dir, 'observe', pinDir.slice(12), 'owner.json')
  /** Reading the ring: owner.json is made empty when the ring is claimed, written once the ring is open. */
  const owning = () => {
    try {
      return 'drainedNs' in (JSON.parse(readFileSync(ownerFile(), 'utf8')) as object)
    } catch {
      return false
    }
  }
  const deniedDrop = (f: Flow) =>
    f.verdict === 'DROPPED' && f.reason === 'isolated' && f.src.ip === other.ip && f.dst.ip === web.ip

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    before = await hostSnapshot()
    lab4Object = await prepareObserveNode(cli, {
      dir: t.dir,
      name: `o${id}`,
      bridge,
      subnet: '10.237.0.0/24',
      pinDir,
      pods: [W, C, O],
    })
    const pods = JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{name: string; ip: string}>
    web = pods.find((p) => p.name === W)!
    other = pods.find((p) => p.name === O)!
  }, 180_000)

  afterAll(async () => {
    for (const p of running) p.kill('SIGKILL')
    await cli(['reset', '--all', '--yes'])
    await deleteLinkQuietly(bridge)
    rmSync(pinDir, {recursive: true, force: true})
    rmSync(oddPinDir, {recursive: true, force: true})
    t.cleanup()
  })

  it('a denied probe is one DROPPED line at to_pod: pods by name, reason isolated, the policy and its nearest miss', async () => {
    const probe = await cli(['pod', 'probe', O, W])
    expect(probe.exitCode).not.toBe(0)
    const r = await cli(['observe', '--pin-dir', pinDir, '--pod', O, '--verdict', 'dropped', '--last', '5'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(
      new RegExp(
        `${O}:\\d+ -> ${W}:80 TCP SYN\\s+to_pod\\s+DROPPED\\s+isolated, no rule allows it \\(policy web-from-client-80: allows app=client only; the sender ${O} has app=other\\)`,
      ),
    )
    expect(r.stderr).toMatch(/0 event\(s\) lost/)
    const json = await cli(['observe', '--pin-dir', pinDir, '--pod', O, '--last', '50', '--json'])
    const flows = flowsIn(json.stdout.split('\n').filter(Boolean))
    const drop = flows.find(deniedDrop)
    expect(drop, json.stdout).toMatchObject({
      program: 'to_pod',
      direction: 'to-pod',
      proto: 'TCP',
      tcpFlags: 'SYN',
      src: {pod: O, labels: {app: 'other'}},
      dst: {pod: W, port: 80},
      policy: 'policy web-from-client-80',
    })
    // The same SYN left other through xdp_prog, which passed it: both observation points are there.
    expect(flows.some((f) => f.program === 'xdp_prog' && f.verdict === 'FORWARDED' && f.src.ip === other.ip)).toBe(true)
    expect(JSON.parse(json.stdout.trim().split('\n').at(-1)!)).toEqual({
      printed: expect.any(Number),
      lost: 0,
      hiddenChecks: 0,
    })
  }, 60_000)

  it('allowed traffic is FORWARDED by the port rule, its replies as conntrack replies', async () => {
    expect((await cli(['pod', 'probe', C, W])).exitCode).toBe(0)
    const json = await cli(['observe', '--pin-dir', pinDir, '--pod', C, '--last', '100', '--json'])
    const flows = flowsIn(json.stdout.split('\n').filter(Boolean))
    expect(flows.find((f) => f.program === 'to_pod' && f.dst.pod === W && f.tcpFlags === 'SYN')).toMatchObject({
      verdict: 'FORWARDED',
      reason: 'port-allowed',
      policy: 'policy web-from-client-80',
    })
    expect(flows.some((f) => f.dst.pod === C && f.reason === 'ct-reply' && f.verdict === 'FORWARDED')).toBe(true)
    // The server's answer opens no flow (docs/observe.md): the client's packets after its SYN are
    // judged by the server's rules, never passed as replies to a flow the server opened.
    const clientAfterSyn = flows.filter(
      (f) => f.program === 'to_pod' && f.src.pod === C && f.dst.pod === W && !f.tcpFlags?.includes('SYN'),
    )
    expect(clientAfterSyn.length, json.stdout).toBeGreaterThan(0)
    expect(clientAfterSyn.map((f) => f.reason)).toEqual(clientAfterSyn.map(() => 'port-allowed'))
  }, 60_000)

  it("--web --kernel with lab 4's ring pinned: the kernel's drops reach the page beside the programs' verdicts", async () => {
    const o = observeBg(['--web', '--port', '0', '--kernel', '--reason', 'no_socket'])
    let url = ''
    await until('the page', () => !!(url = /http:\/\/127\.0\.0\.1:\d+\//.exec(o.err.join(''))?.[0] ?? ''), 60_000)
    const stop = new AbortController()
    const events: Flow[] = []
    const reading = fetch(`${url}flows`, {signal: stop.signal}).then(async (res) => {
      const decoder = new TextDecoder()
      let buf = ''
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, {stream: true})
        for (const m of buf.matchAll(/^data: (.*)$/gm)) events.push(JSON.parse(m[1]) as Flow)
        buf = buf.slice(buf.lastIndexOf('\n') + 1)
      }
    })
    void reading.catch(() => undefined)
    // A datagram from web to a port nobody listens on in other: to_pod passes it (other is not
    // isolated), the kernel frees it in other's namespace as NO_SOCKET. Its own port proves it is ours.
    const port = 40_000 + (Number.parseInt(id, 36) % 20_000)
    const send = () =>
      execa(
        'ip',
        [
          'netns',
          'exec',
          `${NETNS_PREFIX}${W}`,
          'bash',
          '-c',
          'printf x > "/dev/udp/$1/$2"',
          'udp',
          other.ip,
          String(port),
        ],
        {
          reject: false,
          timeout: 5000,
        },
      )
    let tries = 0
    try {
      await until(
        'a kernel drop of our datagram on the page',
        () => {
          if (tries++ % 10 === 0) void send()
          return events.some((f) => f.program === 'kernel' && f.dst.port === port)
        },
        30_000,
      )
      const drop = events.find((f) => f.program === 'kernel' && f.dst.port === port)!
      expect(drop).toMatchObject({verdict: 'DROPPED', reason: 'NO_SOCKET', proto: 'UDP'})
      expect([drop.src.ip, drop.dst.ip]).toEqual([web.ip, other.ip])
      // --reason with the kernel's name (in any case) filters the page too: no program verdict came through.
      expect(events.filter((f) => f.program !== 'kernel')).toEqual([])
    } finally {
      stop.abort()
      o.p.kill('SIGINT')
      await o.p
    }
  }, 120_000)

  it('a second observe follows the first; when the first is interrupted (exit 130) the second takes the ring over', async () => {
    const first = observeBg(['--follow', '--json'])
    await until('the first observe to read the ring', owning)
    const second = observeBg(['--follow', '--json', '--pod', O])
    await new Promise((r) => setTimeout(r, 500))
    await cli(['pod', 'probe', O, W])
    await until('the drop in both', () => flowsIn(first.out).some(deniedDrop) && flowsIn(second.out).some(deniedDrop))
    first.p.kill('SIGINT')
    expect((await first.p).exitCode).toBe(130)
    const seenBefore = flowsIn(second.out).filter(deniedDrop).length
    await cli(['pod', 'probe', O, W])
    await until(
      'the second observe to read the ring itself',
      () => flowsIn(second.out).filter(deniedDrop).length > seenBefore,
    )
    expect(second.out.join('\n')).toMatch(/reading it here now/)
    second.p.kill('SIGINT')
    expect((await second.p).exitCode).toBe(130)
    expect(existsSync(ownerFile())).toBe(false)
  }, 90_000)

  it('records of another size are skipped and said, never decoded as flows', async () => {
    const fix = join(repoRoot, 'test/fixtures/bpf/short_flow_events.bpf.c')
    expect((await cli(['bpf', 'build', fix, '-o', join(t.dir, 'short.o')])).exitCode).toBe(0)
    expect((await cli(['bpf', 'load', join(t.dir, 'short.o'), '--pin-dir', oddPinDir])).exitCode).toBe(0)
    const fd = objGet(join(oddPinDir, 'short_events'))
    try {
      testRun(fd, ipv4Tcp('10.237.0.9', '10.237.0.10', 80), 3)
    } finally {
      closeFd(fd)
    }
    const r = await cli(['observe', '--pin-dir', oddPinDir, '--last', '10'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(
      /skipped \d+ record\(s\) that are not flow events: an event of 16 bytes: struct flow_event is 32/,
    )
  }, 60_000)

  it('with no ring pinned it says what to load, and exits 2 (a usage error)', async () => {
    const r = await cli(['observe', '--pin-dir', '/sys/fs/bpf/ebpfcni-none'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/no flow_events ring is pinned at \/sys\/fs\/bpf\/ebpfcni-none\/flow_events/)
    // Walked: it said `ebpfcni lab 4` loads them, which it does not: it names what loads them.
    expect(r.stderr).toMatch(/ebpfcni bpf build && ebpfcni bpf load --replace/)
    expect(r.stderr).not.toMatch(/ebpfcni lab 4 builds and loads/)
    // In labs 2 and 3 there is no ring yet: the hint names what shows their programs.
    expect(r.stderr).toMatch(/hint: flow events come from lab 4 on .*ebpfcni observe --kernel .*ebpfcni bpf trace/)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/) // no stack trace
  })

  it("a pod deleted and its address reused: the old flow keeps the old pod's name; a broken history says unknown", async () => {
    const [OLD, NEW] = [`old${id}`, `new${id}`]
    const ip = '10.237.0.200'
    const add = (name: string, label: string) =>
      cli([
        'pod',
        'add',
        name,
        '--config',
        join(t.dir, 'net.conflist'),
        '-l',
        label,
        '--workload',
        'sleep',
        '--args',
        `IP=${ip}`,
      ])
    expect((await add(OLD, 'app=other')).exitCode).toBe(0)
    expect((await cli(['pod', 'probe', OLD, W, '--tcp'])).exitCode).not.toBe(0)
    expect((await cli(['pod', 'del', OLD])).exitCode).toBe(0)
    const added = await add(NEW, 'app=client')
    expect(added.exitCode, added.stderr).toBe(0)
    try {
      const pods = JSON.parse((await cli(['pod', 'list', '--json'])).stdout) as Array<{name: string; ip: string}>
      expect(pods.find((p) => p.name === NEW)?.ip).toBe(ip) // the same address, now another pod's
      // The policy's rules follow the pods when it is applied again (no controller runs here).
      const policy = join(repoRoot, 'test/fixtures/policies/web-from-client-80.yaml')
      expect((await cli(['policy', 'apply', policy, '--pin-dir', pinDir])).exitCode).toBe(0)
      expect((await cli(['pod', 'probe', NEW, W, '--tcp'])).exitCode).toBe(0)
      const seen = async () => {
        const r = await cli(['observe', '--pin-dir', pinDir, '--pod', ip, '--since', '5m', '--json'])
        expect(r.exitCode, r.stderr).toBe(0)
        const flows = flowsIn(r.stdout.split('\n').filter(Boolean)).filter(
          (f) => f.src.ip === ip && f.program === 'to_pod',
        )
        return {
          drops: flows.filter((f) => f.verdict === 'DROPPED'),
          allowed: flows.filter((f) => f.reason === 'port-allowed'),
          out: r.stdout,
        }
      }
      const now = await seen()
      expect(now.drops.length, now.out).toBeGreaterThan(0)
      expect(now.allowed.length, now.out).toBeGreaterThan(0)
      for (const f of now.drops) {
        expect(f.src).toMatchObject({pod: OLD, labels: {app: 'other'}})
        expect(f.nearMiss).toBe(`allows app=client only; the sender ${OLD} has app=other`)
      }
      for (const f of now.allowed) expect(f.src).toMatchObject({pod: NEW, labels: {app: 'client'}})
      // By the old name, as typed: its flows are still found, and the line names it.
      const line = await cli(['observe', '--pin-dir', pinDir, '--pod', OLD, '--verdict', 'dropped', '--since', '5m'])
      expect(line.stdout).toMatch(new RegExp(`${OLD}:\\d+ -> ${W}:80 TCP SYN\\s+to_pod\\s+DROPPED`))
      expect(line.stdout).not.toMatch(new RegExp(NEW))
      // A broken history: the old pod's flows are unknown, never the new pod's; nothing crashes.
      writeFileSync(join(t.dir, 'pod-history.json'), '{"version":1,"lives":[{"id":')
      const broken = await seen()
      expect(broken.drops.length, broken.out).toBe(now.drops.length)
      for (const f of broken.drops) expect(f.src).toEqual({ip, port: f.src.port, podUnknown: true})
      for (const f of broken.allowed) expect(f.src.pod).toBe(NEW) // today's pod, from its creation on
      const words = await cli(['observe', '--pin-dir', pinDir, '--pod', ip, '--verdict', 'dropped', '--since', '5m'])
      expect(words.stdout).toMatch(/10\.237\.0\.200\(pod unknown\):\d+ -> /)
    } finally {
      await cli(['pod', 'del', NEW])
    }
  }, 120_000)

  it("a check run's own traffic is marked with the check and hidden by default; --checks shows it", async () => {
    // `ebpfcni check 4 --step deny` as typed, on a bridge, subnet and pin folder of its own.
    const ws = join(t.dir, 'ws-check')
    const checkPin = `/sys/fs/bpf/ebpfcni-obk${id}`
    const env4 = {...env, EBPFCNI_CNI_BIN_DIR: join(t.dir, 'kbin'), EBPFCNI_CNI_CONF_DIR: join(t.dir, 'knet.d')}
    nodeBinDir(join(t.dir, 'kbin'))
    mkdirSync(ws, {recursive: true})
    copyFileSync(join(repoRoot, 'labs/02-ebpf-basics/solution/ebpfcni'), join(ws, 'ebpfcni'))
    chmodSync(join(ws, 'ebpfcni'), 0o755)
    copyFileSync(join(repoRoot, 'labs/04-security-policy/solution/deny/ebpfcni.bpf.c'), join(ws, 'ebpfcni.bpf.c'))
    const config = {
      cniVersion: '1.0.0',
      type: 'ebpfcni',
      name: `ebpfcni-k${id}`,
      bridge: `obk${id}`,
      podcidr: '10.238.0.0/24',
      dataDir: join(t.dir, 'kipam'),
      xdpPin: join(checkPin, 'xdp_prog'),
    }
    writeFileSync(join(ws, '10-ebpfcni.conf'), JSON.stringify(config))
    try {
      const run = cliRunner(env4, 180_000)
      const checked = await run(['check', '4', '--step', 'deny', '--workspace', ws, '--json'])
      const report = JSON.parse(checked.stdout) as {checks: Array<{id: string; status: string}>}
      expect(report.checks.find((c) => c.id === 'policy.deny-drops')?.status, checked.stdout).toBe('pass')
      const hidden = await cli(['observe', '--pin-dir', checkPin, '--since', '10m', '--json'])
      expect(hidden.exitCode, hidden.stderr).toBe(0)
      const lines = hidden.stdout.trim().split('\n')
      const summary = JSON.parse(lines.at(-1)!) as {printed: number; hiddenChecks: number}
      expect(summary.hiddenChecks, hidden.stdout).toBeGreaterThan(0)
      expect(flowsIn(lines).filter((f) => f.check)).toEqual([])
      const words = await cli(['observe', '--pin-dir', checkPin, '--since', '10m'])
      expect(words.stderr).toMatch(/\d+ flow\(s\) of check runs' own pods hidden: --checks shows them/)
      const shown = await cli(['observe', '--pin-dir', checkPin, '--since', '10m', '--checks', '--json'])
      const flows = flowsIn(shown.stdout.split('\n').filter(Boolean))
      expect(flows.length).toBe(summary.hiddenChecks + summary.printed)
      const marked = flows.filter((f) => f.check)
      expect(marked.length).toBe(summary.hiddenChecks)
      for (const f of marked) expect(f.check).toMatch(/^4\/(policy|bpf)\.[a-z-]+$/)
      // The deny the check proved is there, marked with that check, and credited to the check's own rules.
      expect(
        marked.some((f) => f.verdict === 'DROPPED' && f.reason === 'denied' && f.check === '4/policy.deny-drops'),
        shown.stdout,
      ).toBe(true)
      expect(marked.filter((f) => f.verdict === 'DROPPED').every((f) => !f.policy?.startsWith('policy '))).toBe(true)
      const mark = await cli(['observe', '--pin-dir', checkPin, '--since', '10m', '--checks', '--verdict', 'dropped'])
      expect(mark.stdout).toMatch(/\[check 4\/policy\.deny-drops\] \S+:\d+ -> \S+/)
      // A --since that is no moment is a usage error that says what it takes.
      const bad = await cli(['observe', '--pin-dir', checkPin, '--since', 'yesterday'])
      expect(bad.exitCode).toBe(2)
      expect(bad.stderr).toMatch(/--since: "yesterday" is neither a duration \(30s, 5m, 1h30m\) nor a date/)
    } finally {
      await deleteLinkQuietly(`obk${id}`)
      rmSync(checkPin, {recursive: true, force: true})
    }
  }, 240_000)

  it('to_pod reporting DROPPED but returning XDP_DROP (1): the answer that proves the SYN went on says what to_pod returned', async () => {
    // Lab 4's reference with the shared drop() trap: tc_drop() emits DROPPED, then returns XDP_DROP.
    const source = readFileSync(join(repoRoot, 'labs/04-security-policy/solution/networkpolicy/ebpfcni.bpf.c'), 'utf8')
    const trap = source.replace(
      '\temit_tc(skb, FLOW_DROPPED, reason);\n\treturn TC_ACT_SHOT;',
      '\temit_tc(skb, FLOW_DROPPED, reason);\n\treturn XDP_DROP;',
    )
    expect(trap).not.toBe(source)
    writeFileSync(join(t.dir, 'trap.bpf.c'), trap)
    const policy = join(repoRoot, 'test/fixtures/policies/web-from-client-80.yaml')
    const load = async (object: string) => {
      const r = await cli(['bpf', 'load', object, '--pin-dir', pinDir, '--replace'])
      expect(r.exitCode, r.stderr).toBe(0)
      // The pods keep the program they have until the policy layer attaches the new one.
      expect((await cli(['policy', 'apply', policy, '--pin-dir', pinDir])).exitCode).toBe(0)
    }
    const built = await cli(['bpf', 'build', join(t.dir, 'trap.bpf.c'), '-o', join(t.dir, 'trap.o')])
    expect(built.exitCode, built.stdout + built.stderr).toBe(0)
    await load(join(t.dir, 'trap.o'))
    try {
      // other is isolated from web:80, yet the probe goes through: to_pod's "drop" is no drop.
      expect((await cli(['pod', 'probe', O, W, '--tcp'])).exitCode).toBe(0)
      const r = await cli(['observe', '--pin-dir', pinDir, '--pod', O, '--since', '1m', '--json'])
      const flows = flowsIn(r.stdout.split('\n').filter(Boolean))
      const syn = flows.find((f) => deniedDrop(f) && f.tcpFlags === 'SYN')
      expect(syn, r.stdout).toBeDefined()
      const answer = flows.find((f) => f.program === 'xdp_prog' && f.src.pod === W && f.tcpFlags === 'SYN ACK')
      expect(answer?.returned, r.stdout).toMatch(
        /^to_pod reported DROPPED for this connection's SYN, and its pod answered it: to_pod returned something other than TC_ACT_SHOT \(XDP_DROP is 1, TC_ACT_RECLASSIFY, which cls_bpf treats as unspecified and goes on\)$/,
      )
      // The rest of the connection into web (the server's answer opened no flow, so the rules judge it,
      // and the trap "drops" it) carries the note too, not a bare DROPPED.
      const rest = flows.filter(
        (f) => f.program === 'to_pod' && f.src.pod === O && f.src.port === answer!.dst.port && f.tcpFlags !== 'SYN',
      )
      expect(rest.length, r.stdout).toBeGreaterThan(0)
      for (const f of rest)
        expect(f).toMatchObject({verdict: 'DROPPED', reason: 'isolated', returned: answer!.returned})
      const line = await cli(['observe', '--pin-dir', pinDir, '--pod', O, '--since', '1m', '--verdict', 'dropped'])
      expect(line.stdout).toMatch(
        /TCP ACK .*isolated, no rule allows it \(.*: to_pod reported DROPPED for this connection's SYN, and its pod answered it/,
      )
      // An honest drop says nothing more: the denied probes of the tests before.
      expect(flows.filter((f) => deniedDrop(f) && f.returned && f.src.port !== answer!.dst.port)).toEqual([])
    } finally {
      await load(lab4Object)
    }
    expect((await cli(['pod', 'probe', O, W, '--tcp'])).exitCode).not.toBe(0) // the real drop is back
  }, 120_000)

  // Last of the flow tests: after it, the pods' programs still write to the ring the reload unpinned.
  it('a reload that pins a new ring is followed, with a notice', async () => {
    const o = observeBg(['--follow', '--json'])
    await until('observe to read the ring', owning)
    rmSync(join(pinDir, 'flow_events'))
    const reload = await cli(['bpf', 'load', lab4Object, '--pin-dir', pinDir, '--replace'])
    expect(reload.exitCode, reload.stderr).toBe(0)
    await until('the reload notice', () => o.out.some((l) => /reloaded: reading its new flow_events ring/.test(l)))
    o.p.kill('SIGINT')
    expect((await o.p).exitCode).toBe(130)
  }, 60_000)

  it('leaves nothing once reset', async () => {
    expect((await cli(['reset', '--all', '--yes'])).exitCode).toBe(0)
    await deleteLinkQuietly(bridge)
    rmSync(pinDir, {recursive: true, force: true})
    rmSync(oddPinDir, {recursive: true, force: true})
    expect(await hostSnapshot()).toEqual(before)
  })
})
