import {randomBytes} from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {lab1Context, type Lab1Context, type PluginOptions} from '../01-bridge-cni/context.js'
import {buildBpf} from '#bpf/build.js'
import {BpfObject} from '#bpf/object.js'
import {cgroupAttach, tcAttach, tcDetach} from '#bpf/attach.js'
import {mapUpdate} from '#bpf/map-ops.js'
import {explainVerifierLog} from '#bpf/verifier.js'
import {errnoName} from '#bpf/ffi.js'
import {hostPeer, linkDel} from '#net/ip.js'
import {Ledger} from '#host/ledger.js'
import {checkOwner} from '#host/owners.js'
import {packageRoot} from '#host/paths.js'
import {run} from '#host/exec.js'
import {errorMessage} from '#host/errors.js'
import {CheckFailure, CheckSkip} from '#checks/engine.js'
import {addressed, type AddressedPod} from '#checks/check-pods.js'
import {readServices, u32le, addrKey, type Service} from './services.js'
import {ipv4Key} from '#bpf/counters.js'
import {CGROUP_PREFIX, cgroup2Root, removeCgroup} from './cgroups.js'
import {wireCounts, diff, wireObject, type WireCounts} from './wire.js'
import {CLIENT, type RequestResult} from './client.js'
import {importAgent, ServiceAgent} from './agent.js'
import {PEER_CLIENT, UDP_SERVER, type PeerResult} from './udp.js'
import {FlowFeed} from '#observe/flow-feed.js'
import type {FlowEvent} from '#bpf/flow-events.js'

// Lab 6's checks run the learner's services.bpf.c the way an agent would: built, loaded, its
// connect4 attached to the cgroup (v2) that holds the run's pods' processes, its maps filled from
// service.yaml and the pods its selectors pick. Each pod's process runs in a cgroup of its own
// under that one; a process of another pod sits in a cgroup beside it (not under). ebpfcni's own
// wire.bpf.c, on the ingress of a pod's host veth, counts what the pod really sends: packets
// addressed to a VIP (and drops them: a VIP leads nowhere), and every SYN by destination.

export const SERVICES_PROGRAM = 'services.bpf.c'
/** The run's own bridge is named so (reset.ts finds it after a SIGKILL). */
export const BRIDGE_PREFIX = 'ebpfsvc'
/** The run's pods' subnet: apart from the learner's pods and from labs 1-5's check networks. */
export const SERVICES_SUBNET = '10.244.66.0/24'

/** How a test breaks the agent's side (the learner's is their C): where the program is attached. */
export type AttachAt = 'pods' | 'parent'

export interface Lab6Options extends Omit<PluginOptions, 'cniBinDir' | 'configFile'> {
  workspace: string
  /** Where the program's flow maps (ebpfcni_flow.h's ring) are pinned: lab 4's pin dir, so observe shows its events. */
  pinDir: string
  /** Tests only: attach connect4 to the run's whole cgroup, the other pod's included. */
  attachAt?: AttachAt
}

export interface LoadedServices {
  services: Service[]
  /** The run's pods: three backends, a client, and another pod not under the pods' cgroup. */
  backends: AddressedPod[]
  client: AddressedPod
  other: AddressedPod
  /** The cgroup of the client's process, and of the other pod's. */
  clientCgroup: string
  otherCgroup: string
  /** The cgroup connect4 is attached to. */
  attachedTo: string
  /** The program's maps, by name: fd. */
  maps: Map<string, number>
  /** The cgroup hooks attached: connect4, and step 3's sendmsg4, recvmsg4, getpeername4 where the program has them. */
  hooks: string[]
}

/** Lab 1's fixture (the installed plugin and its pods), and the Services fixture over it. */
export interface Lab6Context extends Lab1Context {
  /** The learner's workspace (step 4 builds maglev.bpf.c from it). */
  workspace: string
  /** Build services.bpf.c and load it (fails the asking check with clang's or the verifier's words). */
  program(): Promise<BpfObject>
  /** The program attached, the pods made and the maps filled, once per run. */
  loaded(): Promise<LoadedServices>
  /** The same, for checks that need it working: a failure is a skip naming why. */
  ready(): Promise<LoadedServices>
  /**
   * Run the client in a pod's cgroup: n requests to ip:port, with wire.bpf.c counting on its veth.
   * `proof`, asked while the client runs with what wire.bpf.c counted so far, may prove that no
   * request can be answered: the client is stopped then, and `proven` says how (no results).
   */
  requests(
    pod: AddressedPod,
    cgroup: string,
    to: {ip: string; port: number},
    n: number,
    opts?: {limitMs?: number; proof?: (wire: WireCounts) => Promise<string | undefined>},
  ): Promise<{results: RequestResult[]; wire: WireCounts; proven?: string}>
  /** The 300 requests to the first Service, from the client, once per run, with the translation events they raised. */
  spread(): Promise<{results: RequestResult[]; wire: WireCounts; service: Service; translations: Translations}>
  /** Step 2: the first Service's agent, over the learner's agent.mjs (its slots as loaded() filled them). */
  agent(): Promise<ServiceAgent>
  /** Step 2: a new pod the first Service selects, handed to the agent (once per label and run). */
  addBackend(label: string): Promise<AddressedPod>
  /**
   * Step 2: the pod addBackend(label) will hand to the agent, made now (not handed yet), beside
   * another check's pod: its ADD is not waited for later. Settles, never rejects: addBackend
   * reports a failure.
   */
  spareBackend(label: string): Promise<void>
  /** Step 3: n sockets of the client to a Service (tcp: connect + getpeername; udp-connect; udp-sendto), the backends answering UDP. */
  peers(
    mode: 'tcp' | 'udp-connect' | 'udp-sendto',
    service: Service,
    n: number,
  ): Promise<{results: PeerResult[]; wire: WireCounts}>
  /** Step 2: a backend pod deleted (CNI DEL, netns gone), then the agent told. Returns its slot. */
  deleteBackend(pod: AddressedPod): Promise<number>
}

/** The client's translation events (TRANSLATED, its cgroup) seen during a body of work. */
export interface Translations {
  /** Undefined when no ring could be read: why. */
  events?: FlowEvent[]
  why?: string
  lost: bigint
}

/** A cgroup's id as bpf_get_current_cgroup_id() gives it, low 32 bits (what a translation event holds). */
export const cgroupId = (dir: string): number => Number(statSync(dir, {bigint: true}).ino & 0xffffffffn)

/** The flow maps ebpfcni_flow.h pins by name. */
const FLOW_PINS = ['flow_events', 'flow_lost', 'drop_reasons']

/**
 * The network the run's pods stand on: lab 1's reference plugin (the Service is this lab's new
 * part, not the plugin: whatever plugin the workspace holds after lab 5 does not matter here),
 * in a scratch dir of the run's, with a bridge and subnet of its own.
 */
function servicesNetwork(
  ledger: Ledger,
  lab: number,
): {dir: string; cniBinDir: string; configFile: string; bridge: string} {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-services-net-'))
  ledger.record('dir', dir, {lab, owner: checkOwner(lab), details: {scratch: true}})
  const cniBinDir = join(dir, 'bin')
  mkdirSync(cniBinDir)
  copyFileSync(join(packageRoot(), 'labs', '01-bridge-cni', 'solution', 'ebpfcni'), join(cniBinDir, 'ebpfcni'))
  chmodSync(join(cniBinDir, 'ebpfcni'), 0o755)
  const bridge = `${BRIDGE_PREFIX}${randomBytes(3).toString('hex').slice(0, 5)}`
  const configFile = join(dir, '10-ebpfcni.conf')
  const config = {
    cniVersion: '1.0.0',
    name: 'ebpfcni-services',
    type: 'ebpfcni',
    bridge,
    podcidr: SERVICES_SUBNET,
    dataDir: join(dir, 'ipam'),
  }
  writeFileSync(configFile, JSON.stringify(config))
  return {dir, cniBinDir, configFile, bridge}
}

export function lab6Context(opts: Lab6Options): Lab6Context {
  const ledger = opts.ledger ?? new Ledger()
  const net = servicesNetwork(ledger, opts.lab)
  const base = lab1Context({...opts, ledger, cniBinDir: net.cniBinDir, configFile: net.configFile})
  const {pods} = base
  // After the pods (their DEL ran on this bridge): the bridge and the scratch dir.
  pods.onCleanup('after-pods', async () => {
    await linkDel(net.bridge).catch(() => undefined)
    rmSync(net.dir, {recursive: true, force: true})
    ledger.forgetWhere((e) => e.kind === 'dir' && e.name === net.dir)
  })
  const root = cgroup2Root()
  const runCgroup = root ? join(root, `${CGROUP_PREFIX}${process.pid}-${randomBytes(2).toString('hex')}`) : undefined
  const made: string[] = []
  const objects: BpfObject[] = []
  const mkCgroup = (dir: string): string => {
    mkdirSync(dir)
    made.push(dir)
    return dir
  }
  // Before the pods: processes gone (the clients exit; the other pod's workload too), the cgroups
  // go leaf first, their programs with them; then the objects' fds.
  pods.onCleanup('before-pods', () => {
    for (const dir of [...made].reverse()) removeCgroup(dir)
    for (const o of objects) o.close()
  })

  const program = (): Promise<BpfObject> =>
    pods.once('services-program', async () => {
      const source = join(opts.workspace, SERVICES_PROGRAM)
      const built = await buildBpf(source, join(pods.tmp, 'services.o'))
      if (!built.ok) {
        const first = built.diagnostics.find((d) => d.severity === 'error')
        throw new CheckFailure(
          `${SERVICES_PROGRAM} does not compile: ${first ? `line ${first.line}: ${first.message}` : (built.problem ?? 'clang failed')}`,
        )
      }
      // ebpfcni_flow.h's maps pin by name in lab 4's pin dir: the same ring, reused when lab 4's
      // program holds it, else made here and removed with the run.
      const fresh = FLOW_PINS.map((n) => join(opts.pinDir, n)).filter((p) => !existsSync(p))
      const dirWasThere = existsSync(opts.pinDir)
      for (const p of fresh) ledger.record('pin', p, {lab: opts.lab, owner: checkOwner(opts.lab)})
      pods.onCleanup('after-pods', () => {
        for (const p of fresh) if (existsSync(p)) unlinkSync(p)
        if (!dirWasThere && existsSync(opts.pinDir) && readdirSync(opts.pinDir).length === 0) rmdirSync(opts.pinDir)
        ledger.forgetWhere((e) => e.kind === 'pin' && fresh.includes(e.name))
      })
      const obj = BpfObject.open(built.object, {pinRoot: opts.pinDir})
      objects.push(obj)
      const loaded = obj.load()
      if (!loaded.ok) {
        const v = explainVerifierLog(loaded.log)
        throw new CheckFailure(
          `the verifier refused ${SERVICES_PROGRAM} (${errnoName(loaded.errno)}): ${v.lastLines.slice(-2).join(' | ')}${v.source ? ` — line ${v.source.line}: ${v.source.text.trim()}` : ''}`,
          v.explanation,
        )
      }
      return obj
    })

  const podWithLabels = async (label: string, workload: 'httpbin' | 'sleep' = 'httpbin'): Promise<AddressedPod> => {
    const p = await base.plugin.trafficPod(label, workload)
    if (!addressed(p)) throw new CheckFailure(`pod ${label}: ADD failed (${p.outcome.problem ?? 'no address'})`)
    return p
  }

  const loaded = (): Promise<LoadedServices> =>
    pods.once('services-loaded', async () => {
      if (!root || !runCgroup)
        throw new CheckSkip('needs the cgroup v2 hierarchy mounted (no cgroup2 in /proc/self/mountinfo)')
      const obj = await program()
      const prog = obj.programs().find((p) => p.name === 'connect4') ?? obj.programs()[0]
      if (!prog) throw new CheckFailure(`${SERVICES_PROGRAM} has no program`)
      const maps = new Map(obj.maps().map((m) => [m.name, m.fd]))
      for (const name of ['services', 'backends'])
        if (!maps.has(name))
          throw new CheckFailure(`${SERVICES_PROGRAM} has no map named ${name}: keep the starter's ready-made maps`)
      // The cgroups: the run's, the pods' (connect4 is attached here), the client's under it, and
      // the other pod's beside the pods' (a process the program must not serve).
      mkCgroup(runCgroup)
      const podsCgroup = mkCgroup(join(runCgroup, 'pods'))
      const clientCgroup = mkCgroup(join(podsCgroup, 'client'))
      const otherCgroup = mkCgroup(join(runCgroup, 'other'))
      const attachedTo = opts.attachAt === 'parent' ? runCgroup : podsCgroup
      try {
        cgroupAttach(attachedTo, 'connect4', prog.fd)
      } catch (err) {
        throw new CheckFailure(
          `the kernel refused to attach ${prog.name} to a cgroup as connect4: ${errorMessage(err)}`,
          'The program must be SEC("cgroup/connect4"): libbpf gives it that type and attach type from the section name, and only such a program may attach at connect4.',
        )
      }
      // Step 3's hooks, where the program has them (by name): the same cgroup.
      const hooks: string[] = ['connect4']
      for (const hook of ['sendmsg4', 'recvmsg4', 'getpeername4'] as const) {
        const p = obj.programs().find((x) => x.name === hook)
        if (!p) continue
        try {
          cgroupAttach(attachedTo, hook, p.fd)
          hooks.push(hook)
        } catch (err) {
          throw new CheckFailure(
            `the kernel refused to attach ${hook} to a cgroup: ${errorMessage(err)}`,
            `The program named ${hook} must be SEC("cgroup/${hook}")${hook === 'recvmsg4' ? ' and return 1 on every path (the verifier allows nothing else at recvmsg4)' : ''}.`,
          )
        }
      }
      const services = readServices()
      // Made at once (the reference plugin's allocation holds a lock); the client and the other pod
      // only ever connect out, so they run no server.
      const [web1, web2, web3, client, other] = await Promise.all([
        podWithLabels('web-1'),
        podWithLabels('web-2'),
        podWithLabels('web-3'),
        podWithLabels('client', 'sleep'),
        podWithLabels('other', 'sleep'),
      ])
      const backends = [web1, web2, web3]
      const labels = new Map(backends.map((b) => [b, services[0].selector]))
      // The agent's job: each Service, and the pods whose labels its selector matches.
      services.forEach((s, id) => {
        const picked = backends.filter((b) => Object.entries(s.selector).every(([k, v]) => labels.get(b)?.[k] === v))
        mapUpdate(maps.get('services')!, addrKey(s.clusterIP, s.port), u32le(id, picked.length))
        picked.forEach((b, slot) => mapUpdate(maps.get('backends')!, u32le(id, slot), addrKey(b.ip, s.targetPort)))
      })
      return {services, backends, client, other, clientCgroup, otherCgroup, attachedTo, maps, hooks}
    })

  /** Step 3's client in the client pod (UDP modes: with each backend's UDP server running). */
  const peers: Lab6Context['peers'] = async (mode, service, n) => {
    const s = await loaded()
    const stop = join(pods.tmp, `udp-stop-${randomBytes(3).toString('hex')}`)
    const servers =
      mode === 'tcp'
        ? []
        : s.backends.map((b) => {
            const ready = join(pods.tmp, `udp-ready-${b.name}-${randomBytes(3).toString('hex')}`)
            const args = [String(service.targetPort), b.netnsName, ready, stop]
            const done = run('nsenter', [`--net=${b.netnsPath}`, process.execPath, '-e', UDP_SERVER, ...args], {
              timeoutMs: 70_000,
            })
            return {ready, done}
          })
    try {
      for (const sv of servers)
        for (const end = Date.now() + 10_000; !existsSync(sv.ready); await new Promise((r) => setTimeout(r, 20)))
          if (Date.now() > end) throw new Error("a backend's UDP server did not bind within 10 s")
      const to = {ip: service.clusterIP, port: service.port}
      const r = await inPod(s.client, s.clientCgroup, PEER_CLIENT, [mode, to.ip, String(to.port), String(n)], 30_000)
      return {results: JSON.parse(r.stdout) as PeerResult[], wire: r.wire}
    } finally {
      writeFileSync(stop, '')
      await Promise.all(servers.map((sv) => sv.done))
    }
  }

  /** A script run in a pod's netns and cgroup (argv[1] its cgroup.procs), with wire.bpf.c counting on its host veth. */
  async function inPod(
    pod: AddressedPod,
    cgroup: string,
    script: string,
    args: string[],
    timeoutMs: number,
  ): Promise<{stdout: string; wire: WireCounts}> {
    const s = await loaded()
    const veth = await hostPeer(pod.netnsPath, 'eth0')
    if (!veth) throw new Error(`no host veth for pod ${pod.name}`)
    const wire = await wireProgram()
    const fd = (name: string): number => wire.maps().find((m) => m.name === name)!.fd
    for (const svc of s.services) mapUpdate(fd('vips'), ipv4Key(svc.clusterIP), Buffer.alloc(8))
    const before = wireCounts(fd('vips'), fd('syn_dst'))
    tcAttach(veth.ifindex, 'ingress', wire.programs()[0].fd, {handle: 0x6, priority: 6})
    try {
      const r = await run(
        'nsenter',
        [`--net=${pod.netnsPath}`, process.execPath, '-e', script, join(cgroup, 'cgroup.procs'), ...args],
        {timeoutMs},
      )
      if (r.exitCode !== 0)
        throw new Error(`the client in pod ${pod.name} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`)
      return {stdout: r.stdout, wire: diff(wireCounts(fd('vips'), fd('syn_dst')), before)}
    } finally {
      tcDetach(veth.ifindex, 'ingress', {handle: 0x6, priority: 6})
    }
  }

  const requests: Lab6Context['requests'] = async (pod, cgroup, to, n, o = {}) => {
    const s = await loaded()
    const veth = await hostPeer(pod.netnsPath, 'eth0')
    if (!veth) throw new Error(`no host veth for pod ${pod.name}`)
    const wire = await wireProgram()
    const fd = (name: string): number => wire.maps().find((m) => m.name === name)!.fd
    for (const svc of s.services) mapUpdate(fd('vips'), ipv4Key(svc.clusterIP), Buffer.alloc(8))
    const before = wireCounts(fd('vips'), fd('syn_dst'))
    tcAttach(veth.ifindex, 'ingress', wire.programs()[0].fd, {handle: 0x6, priority: 6})
    try {
      const limitMs = o.limitMs ?? 2000
      const stop = new AbortController()
      const client = run(
        'nsenter',
        [
          `--net=${pod.netnsPath}`,
          process.execPath,
          '-e',
          CLIENT,
          join(cgroup, 'cgroup.procs'),
          to.ip,
          String(to.port),
          String(n),
          '10',
          String(limitMs),
        ],
        {timeoutMs: 30_000 + 5 * limitMs, signal: stop.signal},
      )
      const proof = o.proof
      const proven =
        proof && (await proofWhile(client, () => proof(diff(wireCounts(fd('vips'), fd('syn_dst')), before))))
      if (proven) stop.abort()
      const r = await client
      if (proven) return {results: [], wire: diff(wireCounts(fd('vips'), fd('syn_dst')), before), proven}
      if (r.exitCode !== 0)
        throw new Error(`the client in pod ${pod.name} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`)
      const after = wireCounts(fd('vips'), fd('syn_dst'))
      return {results: JSON.parse(r.stdout) as RequestResult[], wire: diff(after, before)}
    } finally {
      tcDetach(veth.ifindex, 'ingress', {handle: 0x6, priority: 6})
    }
  }

  /**
   * `proof` asked every 50 ms until it proves something (then the caller stops the client) or the
   * client ends; a proof that cannot be asked (no ss) proves nothing, and the client decides.
   */
  async function proofWhile(client: Promise<unknown>, proof: () => Promise<string | undefined>) {
    let ended = false
    void client.then(
      () => (ended = true),
      () => (ended = true),
    )
    while (!ended) {
      await Promise.race([client, new Promise((r) => setTimeout(r, 50))])
      if (ended) return undefined
      const proven = await proof().catch(() => undefined)
      if (proven) return proven
    }
    return undefined
  }

  const wireProgram = (): Promise<BpfObject> =>
    pods.once('wire-program', async () => {
      const obj = BpfObject.open(await wireObject())
      objects.push(obj)
      const l = obj.load()
      if (!l.ok) throw new Error(`ebpfcni's own wire.bpf.c was refused: ${l.log.slice(-300)}`)
      return obj
    })

  /** A backend pod of step 2, once per label and run (spareBackend may make it before addBackend hands it over). */
  const backendPod = (label: string): Promise<AddressedPod> =>
    pods.once(`services-pod-${label}`, async () => {
      await ready()
      return podWithLabels(label)
    })

  const ready = async (): Promise<LoadedServices> => {
    try {
      return await loaded()
    } catch (err) {
      throw new CheckSkip(`needs the program attached and the Service's pods (${errorMessage(err)})`)
    }
  }

  return {
    ...base,
    workspace: opts.workspace,
    program,
    loaded,
    ready,
    requests,
    spread: () =>
      pods.once('services-spread', async () => {
        const s = await ready()
        const service = s.services[0]
        const {result, translations} = await translationsDuring(cgroupId(s.clientCgroup), () =>
          requests(s.client, s.clientCgroup, {ip: service.clusterIP, port: service.port}, 300),
        )
        return {...result, service, translations}
      }),
    agent,
    peers,
    addBackend: (label) =>
      pods.once(`services-backend-${label}`, async () => {
        const a = await agent()
        const pod = await backendPod(label)
        a.added(pod.name, pod.ip)
        return pod
      }),
    spareBackend: (label) =>
      backendPod(label).then(
        () => undefined,
        () => undefined,
      ),
    deleteBackend: async (pod) => {
      const a = await agent()
      await pods.detach(pod)
      return a.deleted(pod.name)
    },
  }

  function agent(): Promise<ServiceAgent> {
    return pods.once('services-agent', async () => {
      const s = await ready()
      const learner = await importAgent(opts.workspace)
      const service = s.services[0]
      return new ServiceAgent(
        learner,
        {services: s.maps.get('services')!, backends: s.maps.get('backends')!},
        {id: 0, clusterIP: service.clusterIP, port: service.port, targetPort: service.targetPort},
        s.backends.map((b) => b.name),
      )
    })
  }

  /** What the program reported through the ring while `body` ran: the TRANSLATED events of one cgroup. */
  async function translationsDuring<T>(
    cgroup: number,
    body: () => Promise<T>,
  ): Promise<{result: T; translations: Translations}> {
    const events: FlowEvent[] = []
    let feed: FlowFeed | undefined
    try {
      feed = FlowFeed.start({pinDir: opts.pinDir, onEvent: (e) => events.push(e)})
      await feed.drainNow() // what was there before is not this run's
      events.length = 0
    } catch (err) {
      feed?.stop()
      return {result: await body(), translations: {why: errorMessage(err), lost: 0n}}
    }
    try {
      const result = await body()
      await feed.drainNow()
      const mine = events.filter((e) => e.verdict === 'TRANSLATED' && e.cgroupId === cgroup)
      return {result, translations: {events: mine, lost: feed.lost()}}
    } finally {
      feed.stop()
    }
  }
}
