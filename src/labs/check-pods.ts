import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {netnsAdd, netnsDel, netnsPath} from '../net/ip.js'
import type {NetworkConfig} from '../cni/config.js'
import {addNetworkList, delNetworkList, type Attachment, type NetworkOutcome} from '../cni/network.js'
import {podIp} from '../pods/types.js'

export interface CheckPod {
  name: string
  netnsName: string
  netnsPath: string
  att: Attachment
  net: NetworkConfig
  outcome: NetworkOutcome
  ip?: string
}

/**
 * Pods made by checks: a netns each (in the ledger before it exists), ADDed straight
 * through the CNI layer so a failing plugin's outcome is kept rather than thrown.
 * cleanup() DELs and removes everything, whatever the checks left.
 */
export class CheckPods {
  readonly ledger: Ledger
  readonly tmp: string
  private readonly pods: CheckPod[] = []
  private readonly memo = new Map<string, Promise<unknown>>()
  private seq = 0

  constructor(
    readonly cniPath: string[],
    readonly timeoutMs: number,
    private readonly owner: string,
    private readonly lab?: number,
    ledger?: Ledger,
  ) {
    this.ledger = ledger ?? new Ledger()
    this.tmp = mkdtempSync(join(tmpdir(), `ebpfcni-${owner}-`))
  }

  /** Make a netns and ADD it to a network; failures are in the outcome, not thrown. */
  async attach(net: NetworkConfig, label: string, overrides: Partial<Attachment> = {}): Promise<CheckPod> {
    const n = this.seq++
    const netnsName = `ebpfcni-chk${process.pid % 10000}-${n}`
    this.ledger.record('netns', netnsName, {lab: this.lab, owner: this.owner})
    await netnsAdd(netnsName)
    const att: Attachment = {containerId: `ebpfcni-check-${label}-${n}`, netns: netnsPath(netnsName), ifname: 'eth0', args: `IgnoreUnknown=1;K8S_POD_NAME=${label}`, ...overrides}
    const outcome = await addNetworkList(net, att, {cniPath: this.cniPath, timeoutMs: this.timeoutMs, negotiate: false})
    const pod: CheckPod = {name: label, netnsName, netnsPath: netnsPath(netnsName), att, net, outcome, ip: outcome.ok ? podIp(outcome.result) : undefined}
    this.pods.push(pod)
    return pod
  }

  /** DEL a pod (with its cached result) and, unless kept, remove its netns. Returns the DEL outcome. */
  async detach(pod: CheckPod, opts: {keepNetns?: boolean} = {}): Promise<NetworkOutcome> {
    const del = await delNetworkList(pod.net, pod.att, {cniPath: this.cniPath, timeoutMs: this.timeoutMs}, pod.outcome.result ?? pod.outcome.calls.at(-1)?.json)
    if (!opts.keepNetns) {
      await netnsDel(pod.netnsName)
      this.ledger.forgetWhere((e) => e.kind === 'netns' && e.name === pod.netnsName)
      this.pods.splice(this.pods.indexOf(pod), 1)
    }
    return del
  }

  /** Memoize shared fixtures across the checks of one run. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) this.memo.set(key, make())
    return this.memo.get(key) as Promise<T>
  }

  async cleanup(): Promise<void> {
    // DEL a few at a time: an IPAM check alone can leave 70 pods.
    const left = [...this.pods].reverse()
    for (let i = 0; i < left.length; i += 8) await Promise.all(left.slice(i, i + 8).map((p) => this.detach(p).catch(() => undefined)))
    for (const e of this.ledger.find((x) => x.owner === this.owner)) {
      await netnsDel(e.name).catch(() => undefined)
      this.ledger.forget([e.id])
    }
    rmSync(this.tmp, {recursive: true, force: true})
  }
}
