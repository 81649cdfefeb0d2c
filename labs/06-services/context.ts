import {randomBytes} from 'node:crypto'
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
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
import {LAB_DIR, readServices, u32le, addrKey, type Service} from './services.js'
import {ipv4Key} from '#bpf/counters.js'
import {CGROUP_PREFIX, cgroup2Root, removeCgroup} from './cgroups.js'
import {wireCounts, diff, type WireCounts} from './wire.js'
import {CLIENT, type RequestResult} from './client.js'

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
  /** Run the client in a pod's cgroup: n requests to ip:port, with wire.bpf.c counting on its veth. */
  requests(
    pod: AddressedPod,
    cgroup: string,
    to: {ip: string; port: number},
    n: number,
    opts?: {limitMs?: number},
  ): Promise<{results: RequestResult[]; wire: WireCounts}>
  /** The 300 requests to the first Service, from the client, once per run. */
  spread(): Promise<{results: RequestResult[]; wire: WireCounts; service: Service}>
}

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
      const obj = BpfObject.open(built.object)
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

  const podWithLabels = async (label: string): Promise<AddressedPod> => {
    const p = await base.plugin.trafficPod(label, 'httpbin')
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
      const services = readServices()
      const backends = [await podWithLabels('web-1'), await podWithLabels('web-2'), await podWithLabels('web-3')]
      const labels = new Map(backends.map((b) => [b, services[0].selector]))
      const client = await podWithLabels('client')
      const other = await podWithLabels('other')
      // The agent's job: each Service, and the pods whose labels its selector matches.
      services.forEach((s, id) => {
        const picked = backends.filter((b) => Object.entries(s.selector).every(([k, v]) => labels.get(b)?.[k] === v))
        mapUpdate(maps.get('services')!, addrKey(s.clusterIP, s.port), u32le(id, picked.length))
        picked.forEach((b, slot) => mapUpdate(maps.get('backends')!, u32le(id, slot), addrKey(b.ip, s.targetPort)))
      })
      return {services, backends, client, other, clientCgroup, otherCgroup, attachedTo}
    })

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
      const r = await run(
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
        {timeoutMs: 30_000 + 5 * limitMs},
      )
      if (r.exitCode !== 0)
        throw new Error(`the client in pod ${pod.name} failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`)
      const after = wireCounts(fd('vips'), fd('syn_dst'))
      return {results: JSON.parse(r.stdout) as RequestResult[], wire: diff(after, before)}
    } finally {
      tcDetach(veth.ifindex, 'ingress', {handle: 0x6, priority: 6})
    }
  }

  const wireProgram = (): Promise<BpfObject> =>
    pods.once('wire-program', async () => {
      const built = await buildBpf(join(LAB_DIR(), 'wire.bpf.c'), join(pods.tmp, 'wire.o'))
      if (!built.ok)
        throw new Error(`ebpfcni's own wire.bpf.c did not build: ${built.problem ?? built.diagnostics[0]?.message}`)
      const obj = BpfObject.open(built.object)
      objects.push(obj)
      const l = obj.load()
      if (!l.ok) throw new Error(`ebpfcni's own wire.bpf.c was refused: ${l.log.slice(-300)}`)
      return obj
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
        const r = await requests(s.client, s.clientCgroup, {ip: service.clusterIP, port: service.port}, 300)
        return {...r, service}
      }),
  }
}
