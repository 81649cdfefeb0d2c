import {rmSync, writeFileSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Ledger} from '../../host/ledger.js'
import {linkDel, links} from '../../net/ip.js'
import {parseNetworkConfig, type NetworkConfig} from '../../cni/config.js'
import {CheckPods, type CheckPod} from '../check-pods.js'
import {startHttpbin} from '../../pods/workload.js'
import {stopRecordedProcess} from '../../host/processes.js'
import {IPAM_DIR} from './reset.js'
import {CheckSkip} from '../check-types.js'
import {checkOwner} from '../../host/owners.js'
import {PodService, recordOf, runtimeFor} from '../../pods/service.js'
import {CONTAINERD_OWNER, removeContainerdState} from '../../pods/cri/daemon.js'

export interface Lab1Options {
  /** Directory holding the installed plugin (CNI_PATH). */
  cniBinDir: string
  /** The installed network config. */
  configFile: string
  runtime: 'netns' | 'podman' | 'cri'
  ledger?: Ledger
  timeoutMs?: number
  /** Run traffic pods through containerd's CRI (labs 2-4 with --runtime cri). */
  criTraffic?: boolean
  /** The lab whose checks these are. */
  lab?: number
}

const LAB = 1
/** Names of runtime.podman's containers: `chk-web-…`, `chk-cli-…`. */
export const PODMAN_CHECK_POD_PREFIX = 'chk-'
/** Names of runtime.cri's pods: `cri-web-…`, `cri-cli-…`. */
export const CRI_CHECK_POD_PREFIX = 'cri-'
// Check networks live apart from the learner's own pods: their own names, bridges and subnets.
const CHECK_SUBNETS = {
  del: '10.244.1.0/29',
  leak: '10.244.2.0/29',
  ipam: '10.244.3.0/27',
  podman: '10.244.4.0/24',
  idem: '10.244.5.0/29',
}
export type CheckNetwork = keyof typeof CHECK_SUBNETS

/** Shared state for one run of lab 1's checks: pods made lazily, everything undone in cleanup(). */
export class Lab1Context extends CheckPods {
  readonly bridgesMade = new Set<string>()
  private criStarted = false

  constructor(readonly opts: Lab1Options) {
    // Every object a check run makes carries the lab whose checks these are (reset --lab N finds them).
    super([opts.cniBinDir], opts.timeoutMs ?? 10_000, checkOwner(opts.lab ?? LAB), opts.lab ?? LAB, opts.ledger)
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

  /** A private network for checks that fill or stress the address space. */
  checkNet(kind: CheckNetwork): NetworkConfig {
    const raw = {
      ...this.rawConfig(),
      name: `ebpfcni-chk-${kind}`,
      bridge: `ebpfchk-${kind}`,
      podcidr: CHECK_SUBNETS[kind],
    }
    const file = join(this.tmp, `${kind}.conf`)
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
  ): Promise<CheckPod> {
    if (!this.opts.criTraffic) {
      const pod = await this.attach(this.learnerNet(), label)
      if (workload === 'httpbin' && pod.outcome.ok && pod.ip) {
        await startHttpbin(this.ledger, {
          name: pod.netnsName,
          netnsPath: pod.netnsPath,
          lab: this.labId,
          owner: this.checkOwner,
        }).catch(() => undefined)
      }
      return pod
    }
    this.assertNotHung()
    await this.criDaemonForThisRun()
    const pods = new PodService(this.ledger)
    const name = `${CRI_CHECK_POD_PREFIX}${label}-${process.pid % 10000}`.slice(0, 32).replace(/-+$/, '')
    const net = this.learnerNet()
    const base = {name: label, netnsName: '', net, att: {containerId: '', netns: '', ifname: 'eth0'}}
    try {
      const rec = await pods.add(
        {name, configFile: this.opts.configFile, cniPath: [this.opts.cniBinDir], workload, labels, lab: this.opts.lab},
        'cri',
      )
      return this.adopt({
        ...base,
        netnsPath: rec.netnsPath,
        att: {containerId: rec.containerId, netns: rec.netnsPath, ifname: 'eth0'},
        ip: rec.ip,
        outcome: {ok: true, command: 'ADD', calls: [], result: rec.result},
        removeVia: () => pods.remove(name),
      })
    } catch (err) {
      return {...base, netnsPath: '', outcome: {ok: false, command: 'ADD', calls: [], problem: (err as Error).message}}
    }
  }

  /** Pod A on the learner's network, running httpbin. */
  podA(): Promise<CheckPod> {
    return this.once('podA', async () => {
      return this.trafficPod('httpbin', 'httpbin', {app: 'httpbin'})
    })
  }

  /** Pod B on the learner's network (a client, as the original's sleep pod). */
  podB(): Promise<CheckPod> {
    return this.once('podB', async () => {
      await this.podA()
      return this.trafficPod('sleep', 'sleep', {app: 'sleep'})
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
    this.criStarted ||= !this.ledger.find((e) => e.kind === 'process' && e.owner === CONTAINERD_OWNER).length
  }

  protected async removeAll(): Promise<void> {
    // runtime.podman's and runtime.cri's pods, should the run have been interrupted before their own cleanup.
    for (const e of this.ledger.find(
      (x) =>
        x.kind === 'pod' && (x.name.startsWith(PODMAN_CHECK_POD_PREFIX) || x.name.startsWith(CRI_CHECK_POD_PREFIX)),
    )) {
      await runtimeFor(recordOf(e).runtime, this.ledger)
        .remove(recordOf(e))
        .catch(() => undefined)
    }
    // A containerd this run started goes with it (and its state: mounts, images), as if never there.
    if (this.criStarted) {
      for (const e of this.ledger.find((x) => x.kind === 'process' && x.owner === CONTAINERD_OWNER)) {
        await stopRecordedProcess(e.details)
        this.ledger.forget([e.id])
      }
      await removeContainerdState().catch(() => undefined)
    }
    for (const e of this.ledger.find((x) => x.kind === 'process' && x.owner === this.checkOwner)) {
      await stopRecordedProcess(e.details)
      this.ledger.forget([e.id])
    }
    await super.removeAll()
    for (const br of this.bridgesMade) await linkDel(br).catch(() => undefined)
    // A plugin killed mid-ADD by Ctrl-C may have made a check bridge after the list above was taken.
    for (const l of await links().catch(() => []))
      if (l.ifname.startsWith('ebpfchk-')) await linkDel(l.ifname).catch(() => undefined)
    for (const kind of Object.keys(CHECK_SUBNETS))
      rmSync(`${IPAM_DIR}/ebpfcni-chk-${kind}`, {recursive: true, force: true})
  }
}
