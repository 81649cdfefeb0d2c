import {rmSync, writeFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Ledger} from '#host/ledger.js'
import {linkDel, links} from '#net/ip.js'
import {parseNetworkConfig, type NetworkConfig} from '#cni/config.js'
import {CheckPods, type CheckPod} from '#checks/check-pods.js'
import {startHttpbin} from '#pods/workload.js'
import {stopRecordedProcess} from '#host/processes.js'
import {IPAM_DIR} from './reset.js'
import {CheckSkip} from '#checks/engine.js'
import {checkOwner} from '#host/owners.js'
import {PodService, recordOf, runtimeFor} from '#pods/service.js'
import {CONTAINERD_OWNER, removeContainerdState} from '#pods/cri/daemon.js'

export interface PluginOptions {
  /** Directory holding the installed plugin (CNI_PATH). */
  cniBinDir: string
  /** The installed network config. */
  configFile: string
  runtime: 'netns' | 'podman' | 'cri'
  ledger?: Ledger
  timeoutMs?: number
  /** Run traffic pods through containerd's CRI (labs 2-4 with --runtime cri). */
  criTraffic?: boolean
  /** The lab whose checks these are: every object the run makes is recorded under it. */
  lab: number
}
/** Names of runtime.podman's containers: `chk-web-…`, `chk-cli-…`. */
export const PODMAN_CHECK_POD_PREFIX = 'chk-'
/** Names of runtime.cri's pods: `cri-web-…`, `cri-cli-…`. */
export const CRI_CHECK_POD_PREFIX = 'cri-'
// Check networks live apart from the learner's own pods: their own names, bridges and subnets.
const CHECK_SUBNETS = {
  del: '10.244.1.0/29',
  leak: '10.244.2.0/29',
  ipam: '10.244.3.0/28',
  podman: '10.244.4.0/24',
  idem: '10.244.5.0/29',
  nopin: '10.244.6.0/30',
  prefix: '10.244.7.0/28',
}
export type CheckNetwork = keyof typeof CHECK_SUBNETS

/**
 * The learner's plugin and config as installed, and pods on its network: lab 1's fixture, which
 * every later lab's checks stand on too. It makes pods through the run's CheckPods and undoes
 * what only it makes (check bridges, CRI pods, a containerd it started) through its cleanup hooks.
 */
export class PluginFixture {
  readonly bridgesMade = new Set<string>()
  private criStarted = false

  constructor(
    readonly pods: CheckPods,
    readonly opts: PluginOptions,
  ) {
    pods.onCleanup('before-pods', () => this.removeRuntimePods())
    pods.onCleanup('after-pods', () => this.removeCheckNetworks())
  }

  /** The learner's config as parsed JSON (throws CheckSkip when it is unusable). */
  rawConfig(): Record<string, unknown> {
    try {
      return JSON.parse(readFileSync(this.opts.configFile, 'utf8')) as Record<string, unknown>
    } catch {
      throw new CheckSkip('needs a valid config (config.valid)')
    }
  }

  learnerNet(): NetworkConfig {
    try {
      return parseNetworkConfig(readFileSync(this.opts.configFile, 'utf8'), this.opts.configFile)
    } catch {
      throw new CheckSkip('needs a valid config (config.valid)')
    }
  }

  /** A private network for checks that fill or stress the address space (`extra` overrides config fields). */
  checkNet(kind: CheckNetwork, extra: Record<string, unknown> = {}): NetworkConfig {
    const raw = {
      ...this.rawConfig(),
      ...extra,
      name: `ebpfcni-chk-${kind}`,
      bridge: `ebpfchk-${kind}`,
      podcidr: CHECK_SUBNETS[kind],
    }
    const file = join(this.pods.tmp, `${kind}.conf`)
    writeFileSync(file, JSON.stringify(raw))
    this.bridgesMade.add(raw.bridge)
    return parseNetworkConfig(JSON.stringify(raw), file)
  }

  bridgeOf(net: NetworkConfig): string {
    return String(net.plugins[0].bridge ?? 'bridge0')
  }

  podcidrOf(net: NetworkConfig): string {
    return String(net.plugins[0].podcidr)
  }

  /**
   * A pod for traffic checks on the learner's network: through containerd's CRI when the run
   * asks for it (labs 2-4 with --runtime cri: the kubelet's path), else a netns the checks ADD.
   */
  async trafficPod(
    label: string,
    workload: 'httpbin' | 'sleep' = 'sleep',
    labels: Record<string, string> = {},
    /** Called once the pod's ADD is done, before its workload starts. */
    added?: () => void,
  ): Promise<CheckPod> {
    const pods = this.pods
    if (!this.opts.criTraffic) {
      const pod = await pods.attach(this.learnerNet(), label)
      added?.()
      if (workload === 'httpbin' && pod.outcome.ok && pod.ip) {
        await startHttpbin(pods.ledger, {
          name: pod.netnsName,
          netnsPath: pod.netnsPath,
          lab: this.opts.lab,
          owner: pods.checkOwner,
        }).catch(() => undefined)
      }
      return pod
    }
    pods.assertNotHung()
    await this.criDaemonForThisRun()
    const service = new PodService(pods.ledger)
    const name = `${CRI_CHECK_POD_PREFIX}${label}-${process.pid % 10000}`.slice(0, 32).replace(/-+$/, '')
    const net = this.learnerNet()
    const base = {name: label, netnsName: '', net, att: {containerId: '', netns: '', ifname: 'eth0'}}
    try {
      const rec = await service.add(
        {name, configFile: this.opts.configFile, cniPath: [this.opts.cniBinDir], workload, labels, lab: this.opts.lab},
        'cri',
      )
      return pods.adopt({
        ...base,
        netnsPath: rec.netnsPath,
        att: {containerId: rec.containerId, netns: rec.netnsPath, ifname: 'eth0'},
        ip: rec.ip,
        outcome: {ok: true, command: 'ADD', calls: [], result: rec.result},
        removeVia: () => service.remove(name),
      })
    } catch (err) {
      return {...base, netnsPath: '', outcome: {ok: false, command: 'ADD', calls: [], problem: (err as Error).message}}
    }
  }

  /** Settles once pod A's ADD is done (podA() starts it). */
  private podAAdded?: Promise<void>

  /** Pod A on the learner's network, running httpbin. */
  podA(): Promise<CheckPod> {
    return this.pods.once('podA', async () => {
      let added = (): void => undefined
      this.podAAdded = new Promise((r) => (added = r))
      return this.trafficPod('httpbin', 'httpbin', {app: 'httpbin'}, added).finally(added)
    })
  }

  /** Pod B on the learner's network (a client, as the original's sleep pod). */
  podB(): Promise<CheckPod> {
    return this.pods.once('podB', async () => {
      // After A's ADD, not after its httpbin: B's ADD meets no other ADD, and runs while httpbin starts.
      const a = this.podA()
      await Promise.race([a, this.podAAdded])
      const b = await this.trafficPod('sleep', 'sleep', {app: 'sleep'})
      await a
      return b
    })
  }

  /** Pod A if its ADD fully succeeded; otherwise skip (the failure is cni.add.succeeds'). */
  async healthyA(): Promise<CheckPod> {
    const a = await this.podA()
    if (!a.outcome.ok || !a.outcome.result)
      throw new CheckSkip('needs a successful ADD (cni.add.succeeds, cni.add.result-schema)')
    return a
  }

  /** runtime.cri needs containerd: note whether this run started it, so cleanup stops it again. */
  async criDaemonForThisRun(): Promise<void> {
    this.criStarted ||= !this.pods.ledger.find((e) => e.kind === 'process' && e.owner === CONTAINERD_OWNER).length
  }

  private async removeRuntimePods(): Promise<void> {
    const ledger = this.pods.ledger
    // runtime.podman's and runtime.cri's pods, should the run have been interrupted before their own cleanup.
    for (const e of ledger.find(
      (x) =>
        x.kind === 'pod' && (x.name.startsWith(PODMAN_CHECK_POD_PREFIX) || x.name.startsWith(CRI_CHECK_POD_PREFIX)),
    )) {
      await runtimeFor(recordOf(e).runtime, ledger)
        .remove(recordOf(e))
        .catch(() => undefined)
    }
    // A containerd this run started goes with it (and its state: mounts, images), as if never there.
    if (this.criStarted) {
      for (const e of ledger.find((x) => x.kind === 'process' && x.owner === CONTAINERD_OWNER)) {
        await stopRecordedProcess(e.details)
        ledger.forget([e.id])
      }
      await removeContainerdState().catch(() => undefined)
    }
    for (const e of ledger.find((x) => x.kind === 'process' && x.owner === this.pods.checkOwner)) {
      await stopRecordedProcess(e.details)
      ledger.forget([e.id])
    }
  }

  private async removeCheckNetworks(): Promise<void> {
    // At once: each is its own link.
    const del = (names: string[]) => Promise.all(names.map((n) => linkDel(n).catch(() => undefined)))
    await del([...this.bridgesMade])
    // A plugin killed mid-ADD by Ctrl-C may have made a check bridge after the list above was taken.
    await del((await links().catch(() => [])).map((l) => l.ifname).filter((n) => n.startsWith('ebpfchk-')))
    for (const kind of Object.keys(CHECK_SUBNETS))
      rmSync(`${IPAM_DIR}/ebpfcni-chk-${kind}`, {recursive: true, force: true})
  }
}

/** What a check run of any lab is made from: its pods, and the installed plugin they run on. */
export interface Lab1Context {
  pods: CheckPods
  plugin: PluginFixture
  /** Undo everything the run made; safe to call twice (Ctrl-C and the normal end). */
  cleanup(): Promise<void>
}

/** Lab 1's checks' context. Every object the run makes is recorded under `opts.lab`. */
export function lab1Context(opts: PluginOptions): Lab1Context {
  const pods = new CheckPods([opts.cniBinDir], opts.timeoutMs ?? 10_000, checkOwner(opts.lab), opts.lab, opts.ledger)
  return {pods, plugin: new PluginFixture(pods, opts), cleanup: () => pods.cleanup()}
}
