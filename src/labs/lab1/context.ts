import {mkdtempSync, rmSync, writeFileSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Ledger} from '../../host/ledger.js'
import {netnsAdd, netnsDel, netnsPath, linkDel} from '../../net/ip.js'
import {parseNetworkConfig, type NetworkConfig} from '../../cni/config.js'
import {addNetworkList, delNetworkList, type Attachment, type NetworkOutcome} from '../../cni/network.js'
import {podIp} from '../../pods/types.js'
import {startHttpbin} from '../../pods/workload.js'
import {stopRecordedProcess} from '../../host/processes.js'
import {IPAM_DIR} from './reset.js'
import {CheckSkip} from '../check-types.js'

export interface CheckPod {
  name: string
  netnsName: string
  netnsPath: string
  att: Attachment
  net: NetworkConfig
  outcome: NetworkOutcome
  ip?: string
}

export interface Lab1Options {
  /** Directory holding the installed plugin (CNI_PATH). */
  cniBinDir: string
  /** The installed network config. */
  configFile: string
  runtime: 'netns' | 'podman'
  ledger?: Ledger
  timeoutMs?: number
}

const LAB = 1
// Check networks live apart from the learner's own pods: their own names, bridges and subnets.
const CHECK_SUBNETS = {del: '10.244.1.0/29', leak: '10.244.2.0/29', ipam: '10.244.3.0/24', podman: '10.244.4.0/24', idem: '10.244.5.0/29'}
export type CheckNetwork = keyof typeof CHECK_SUBNETS

/** Shared state for one run of lab 1's checks: pods made lazily, everything undone in cleanup(). */
export class Lab1Context {
  readonly ledger: Ledger
  readonly tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-check1-'))
  readonly cniPath: string[]
  private readonly pods: CheckPod[] = []
  private readonly memo = new Map<string, Promise<unknown>>()
  private seq = 0
  readonly bridgesMade = new Set<string>()

  constructor(readonly opts: Lab1Options) {
    this.ledger = opts.ledger ?? new Ledger()
    this.cniPath = [opts.cniBinDir]
  }

  get timeoutMs(): number {
    return this.opts.timeoutMs ?? 10_000
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
    const raw = {...this.rawConfig(), name: `ebpfcni-chk-${kind}`, bridge: `ebpfchk-${kind}`, podcidr: CHECK_SUBNETS[kind]}
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

  /** Make a netns (ledger first) and ADD it to a network; failures are in the outcome, not thrown. */
  async attach(net: NetworkConfig, label: string, overrides: Partial<Attachment> = {}): Promise<CheckPod> {
    const n = this.seq++
    const netnsName = `ebpfcni-chk${process.pid % 10000}-${n}`
    this.ledger.record('netns', netnsName, {lab: LAB, owner: 'lab1-check'})
    await netnsAdd(netnsName)
    const att: Attachment = {containerId: `ebpfcni-check-${label}-${n}`, netns: netnsPath(netnsName), ifname: 'eth0', args: `IgnoreUnknown=1;K8S_POD_NAME=${label}`, ...overrides}
    const outcome = await addNetworkList(net, att, {cniPath: this.cniPath, timeoutMs: this.timeoutMs, negotiate: false})
    const pod: CheckPod = {name: label, netnsName, netnsPath: netnsPath(netnsName), att, net, outcome, ip: outcome.ok ? podIp(outcome.result) : undefined}
    this.pods.push(pod)
    return pod
  }

  /** DEL a pod (with its cached result) and remove its netns. Returns the DEL outcome. */
  async detach(pod: CheckPod, opts: {keepNetns?: boolean} = {}): Promise<NetworkOutcome> {
    const del = await delNetworkList(pod.net, pod.att, {cniPath: this.cniPath, timeoutMs: this.timeoutMs}, pod.outcome.result ?? pod.outcome.calls.at(-1)?.json)
    if (!opts.keepNetns) {
      await netnsDel(pod.netnsName)
      this.ledger.forgetWhere((e) => e.kind === 'netns' && e.name === pod.netnsName)
      this.pods.splice(this.pods.indexOf(pod), 1)
    }
    return del
  }

  /** Memoize shared fixtures (pod A, pod B...) across checks of one run. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) this.memo.set(key, make())
    return this.memo.get(key) as Promise<T>
  }

  /** Pod A on the learner's network, running httpbin. */
  podA(): Promise<CheckPod> {
    return this.once('podA', async () => {
      const pod = await this.attach(this.learnerNet(), 'httpbin')
      if (pod.outcome.ok && pod.ip) {
        await startHttpbin(this.ledger, {name: `lab1-check-${pod.netnsName}`, netnsPath: pod.netnsPath, lab: LAB}).catch(() => undefined)
      }
      return pod
    })
  }

  /** Pod B on the learner's network (a client, as the original's sleep pod). */
  podB(): Promise<CheckPod> {
    return this.once('podB', async () => {
      await this.podA()
      return this.attach(this.learnerNet(), 'sleep')
    })
  }

  /** Pod A if its ADD fully succeeded; otherwise skip (the failure is cni.add.succeeds'). */
  async healthyA(): Promise<CheckPod> {
    const a = await this.podA()
    if (!a.outcome.ok || !a.outcome.result) throw new CheckSkip('needs a successful ADD (cni.add.succeeds, cni.add.result-schema)')
    return a
  }

  async cleanup(): Promise<void> {
    for (const e of this.ledger.find((x) => x.kind === 'process' && x.owner?.startsWith('lab1-check-') === true)) {
      await stopRecordedProcess(e.details)
      this.ledger.forget([e.id])
    }
    // DEL the check pods a few at a time: the IPAM check alone leaves 70.
    const left = [...this.pods].reverse()
    for (let i = 0; i < left.length; i += 8) await Promise.all(left.slice(i, i + 8).map((p) => this.detach(p).catch(() => undefined)))
    for (const e of this.ledger.find((x) => x.owner === 'lab1-check')) {
      await netnsDel(e.name).catch(() => undefined)
      this.ledger.forget([e.id])
    }
    for (const br of this.bridgesMade) await linkDel(br).catch(() => undefined)
    for (const kind of Object.keys(CHECK_SUBNETS)) rmSync(`${IPAM_DIR}/ebpfcni-chk-${kind}`, {recursive: true, force: true})
    rmSync(this.tmp, {recursive: true, force: true})
  }
}
