import {randomBytes} from 'node:crypto'
import {Ledger, type LedgerEntry} from '../host/ledger.js'
import {podOwner} from '../host/owners.js'
import {link, netnsAdd, netnsDel, netnsPath} from '../net/ip.js'
import {nsExecArgs} from '../net/probes.js'
import {loadNetworkConfig} from '../cni/config.js'
import {addNetworkList, checkNetworkList, delNetworkList, type NetworkOutcome} from '../cni/network.js'
import {failedAddHint} from '../cni/add-failure.js'
import {newPodRecord, type PodRecord, type PodRuntime, type PodSpec} from './types.js'
import {podIp} from '../cni/result.js'
import {startHttpbin} from './workload.js'
import {stopRecordedProcess} from '../host/processes.js'
import {PodError} from './errors.js'

export const NETNS_PREFIX = 'ebpfcni-'

/** The CLI is the runtime (like cnitool plus a workload): a named netns per pod, the plugin called per spec. */
export class NetnsRuntime implements PodRuntime {
  readonly name = 'netns' as const
  constructor(private readonly ledger: Ledger = new Ledger()) {}

  async add(spec: PodSpec): Promise<PodRecord> {
    const net = loadNetworkConfig(spec.configFile)
    const netnsName = `${NETNS_PREFIX}${spec.name}`
    const record = newPodRecord(spec, {
      runtime: 'netns',
      containerId: `ebpfcni-${spec.name}-${randomBytes(4).toString('hex')}`,
      netnsPath: netnsPath(netnsName),
      netnsName,
      ifname: spec.ifname,
      ...(spec.node ? {node: spec.node.name, nodeNetns: spec.node.netnsPath} : {}),
    })
    // Write-ahead: the pod and its netns are in the ledger before either exists.
    const podEntry = this.ledger.record('pod', spec.name, {
      lab: spec.lab,
      details: {...record, timeoutMs: spec.timeoutMs},
    })
    this.ledger.record('netns', netnsName, {lab: spec.lab, owner: podOwner(spec.name)})
    try {
      await netnsAdd(netnsName)
    } catch (err) {
      await this.remove(record).catch(() => undefined)
      throw new PodError(`creating the pod's network namespace`, (err as Error).message)
    }
    record.cniArgs = [`IgnoreUnknown=1;K8S_POD_NAME=${spec.name};K8S_POD_NAMESPACE=default`, spec.cniArgs]
      .filter(Boolean)
      .join(';')
    this.ledger.update(podEntry.id, {...record})
    const att = {containerId: record.containerId, netns: record.netnsPath, ifname: spec.ifname, args: record.cniArgs}
    // The failure's cause tells the host's own CNI_IFNAME (a veth eth0 in a container) from a pod end made there.
    const onHostBefore = (await link(spec.ifname, record.nodeNetns).catch(() => undefined)) !== undefined
    const added: NetworkOutcome = await addNetworkList(net, att, {
      cniPath: spec.cniPath,
      timeoutMs: spec.timeoutMs,
      hostNetns: record.nodeNetns,
    })
    if (!added.ok) {
      // Its cause, from what the failure left: read before DEL and the netns removal undo it.
      const hint = await failedAddHint(added, att, {hostNetns: record.nodeNetns, onHostBefore}).catch(() => undefined)
      // As kubelet does after a failed ADD: DEL (so the plugin may release what it took), then drop the sandbox.
      await delNetworkList(net, att, {
        cniPath: spec.cniPath,
        timeoutMs: spec.timeoutMs,
        hostNetns: record.nodeNetns,
      }).catch(() => undefined)
      await this.cleanup(record)
      throw new PodError(`CNI ADD for pod ${spec.name}`, added.problem ?? 'failed', added, hint)
    }
    record.result = added.result
    record.ip = podIp(added.result)
    record.mac = added.result?.interfaces?.find((i) => i.sandbox)?.mac ?? added.result?.interfaces?.[0]?.mac
    this.ledger.update(podEntry.id, {...record})
    if (spec.workload === 'httpbin') {
      try {
        await startHttpbin(this.ledger, {name: spec.name, netnsPath: record.netnsPath, lab: spec.lab})
      } catch (err) {
        await this.remove(record).catch(() => undefined)
        throw new PodError(`starting the httpbin workload in pod ${spec.name}`, (err as Error).message)
      }
    }
    return record
  }

  async remove(pod: PodRecord): Promise<void> {
    let problem: string | undefined
    try {
      const net = loadNetworkConfig(pod.configFile)
      // DEL still runs when the netns is already gone: the spec asks plugins to tolerate it.
      const att = {containerId: pod.containerId, netns: pod.netnsPath, ifname: pod.ifname, args: pod.cniArgs}
      const del = await delNetworkList(net, att, {cniPath: pod.cniPath, hostNetns: pod.nodeNetns}, pod.result)
      if (!del.ok) problem = del.problem
    } catch (err) {
      problem = (err as Error).message
    }
    await this.cleanup(pod)
    if (problem)
      throw new PodError(`CNI DEL for pod ${pod.name}`, `${problem} (the pod's netns and workload were removed anyway)`)
  }

  /** Stop the workload, delete the netns, forget the pod's ledger entries. */
  private async cleanup(pod: PodRecord): Promise<void> {
    // Ledgers written before owners had namespaces name the pod bare: only its netns and workload.
    const legacy = (e: LedgerEntry) =>
      e.owner === pod.name && (e.kind === 'netns' || (e.kind === 'process' && e.name === `httpbin in pod ${pod.name}`))
    const owned = this.ledger.find(
      (e) => e.owner === podOwner(pod.name) || legacy(e) || (e.kind === 'pod' && e.name === pod.name),
    )
    for (const e of owned.filter((x) => x.kind === 'process')) await stopRecordedProcess(e.details)
    if (pod.netnsName) await netnsDel(pod.netnsName)
    this.ledger.forget(owned.map((e) => e.id))
  }

  /** CNI CHECK with the cached result, as a runtime runs it (cnitool check). */
  async check(pod: PodRecord, timeoutMs = 10_000): Promise<NetworkOutcome> {
    const net = loadNetworkConfig(pod.configFile)
    return checkNetworkList(
      net,
      {containerId: pod.containerId, netns: pod.netnsPath, ifname: pod.ifname, args: pod.cniArgs},
      {cniPath: pod.cniPath, timeoutMs, hostNetns: pod.nodeNetns},
      pod.result,
    )
  }

  execArgs(pod: PodRecord, cmd: string[]): [string, string[]] {
    return nsExecArgs(pod.netnsPath, cmd)
  }
}
