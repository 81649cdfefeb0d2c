import {Ledger, type LedgerEntry} from '../host/ledger.js'
import {CNI_BIN_DIR, CNI_CONF_DIR, DEBIAN_CNI_DIR} from '../host/paths.js'
import {UserError} from '../host/errors.js'
import {onInterrupt} from '../host/interrupt.js'
import {NetnsRuntime} from './netns-runtime.js'
import {PodmanRuntime} from './podman-runtime.js'
import {CriRuntime} from './cri-runtime.js'
import {POD_NAME, type PodRecord, type PodRuntime, type PodSpec, type RuntimeName, type WorkloadName} from './types.js'
import {existsSync} from 'node:fs'
import {hostPeer, neighForget} from '../net/ip.js'

export const DEFAULT_CONFIG = `${CNI_CONF_DIR}/10-ebpfcni.conf`
export const DEFAULT_CNI_PATH = [CNI_BIN_DIR, DEBIAN_CNI_DIR]

export function runtimeFor(name: RuntimeName, ledger = new Ledger()): PodRuntime {
  if (name === 'cri') return new CriRuntime(ledger)
  return name === 'podman' ? new PodmanRuntime(ledger) : new NetnsRuntime(ledger)
}

export const recordOf = (entry: LedgerEntry): PodRecord => entry.details as unknown as PodRecord

/** Pods made by the tool, from the ledger. */
export class PodService {
  constructor(private readonly ledger = new Ledger()) {}

  list(): PodRecord[] {
    return this.ledger.find((e) => e.kind === 'pod').map(recordOf)
  }

  get(name: string): PodRecord {
    const pod = this.list().find((p) => p.name === name)
    if (!pod)
      throw new UserError(`no pod named "${name}"`, {
        hint: `pods: ${
          this.list()
            .map((p) => p.name)
            .join(', ') || 'none'
        }`,
        next: this.list().length ? undefined : {do: 'add-pod'},
      })
    return pod
  }

  async add(spec: Partial<PodSpec> & {name: string}, runtime: RuntimeName = 'netns'): Promise<PodRecord> {
    if (!POD_NAME.test(spec.name))
      throw new UserError(
        `pod name "${spec.name}" must be 1-32 lowercase letters, digits or '-' (starting and ending alphanumeric)`,
      )
    if (this.list().some((p) => p.name === spec.name))
      throw new UserError(`a pod named "${spec.name}" already exists`, {next: {do: 'delete-pod', pod: spec.name}})
    const full: PodSpec = {
      labels: {},
      workload: 'httpbin' as WorkloadName,
      configFile: DEFAULT_CONFIG,
      cniPath: DEFAULT_CNI_PATH,
      timeoutMs: 10_000,
      ifname: 'eth0',
      ...spec,
    }
    // Ctrl-C while the pod is being made: remove the half-made pod (it is in the ledger already).
    const unregister = onInterrupt(async () => {
      const made = this.list().find((p) => p.name === spec.name)
      if (made)
        await runtimeFor(made.runtime, this.ledger)
          .remove(made)
          .catch(() => undefined)
    })
    try {
      const pod = await runtimeFor(runtime, this.ledger).add(full)
      await this.announce(pod)
      return pod
    } finally {
      unregister()
    }
  }

  /**
   * A new pod's address may be a deleted pod's: the other pods and the node still map it to the old MAC
   * (REACHABLE for up to ~30 s, then probed), and their packets to it are lost for seconds. The bridge
   * plugin announces a new pod with a gratuitous ARP (arping); the lab's bash plugin has no arping, so
   * the tool, as the runtime, has every pod and the node forget the address instead.
   */
  private async announce(pod: PodRecord): Promise<void> {
    if (!pod.ip) return
    const others = this.list().filter((p) => p.name !== pod.name && p.netnsPath && existsSync(p.netnsPath))
    await Promise.all([
      neighForget(pod.ip, pod.nodeNetns),
      ...others.map((p) => neighForget(pod.ip!, p.netnsPath)),
    ]).catch(() => undefined)
  }

  async remove(name: string): Promise<void> {
    const pod = this.get(name)
    await runtimeFor(pod.runtime, this.ledger).remove(pod)
  }

  /** The pod interface's veth peer on the host. */
  async hostVeth(pod: PodRecord): Promise<string | undefined> {
    // On a simulated node (lab 5) the host end lives in the node's netns, not this machine's.
    if (pod.nodeNetns) return undefined
    return (await hostPeer(pod.netnsPath, pod.ifname))?.ifname
  }
}

/** Pod IP -> pod name for every pod the tool made (exporter labels, policy listings). */
export function podNamesByIp(ledger = new Ledger()): Map<string, string> {
  return new Map(new PodService(ledger).list().flatMap((p) => (p.ip ? [[p.ip, p.name] as const] : [])))
}

/** The host device a bpf command targets: a pod's host veth (--pod) or an interface (--dev). */
export async function hostDevice(target: {pod?: string; dev?: string}, ledger = new Ledger()): Promise<string> {
  if (target.dev) return target.dev
  const pods = new PodService(ledger)
  const veth = await pods.hostVeth(pods.get(String(target.pod)))
  if (!veth)
    throw new UserError(`cannot find the host end of pod ${target.pod}'s interface`, {
      next: {do: 'list-pods'},
    })
  return veth
}

/** Host veth -> pod name, for listings of what is attached where. */
export async function podNamesByHostVeth(ledger = new Ledger()): Promise<Map<string, string>> {
  const pods = new PodService(ledger)
  const pairs = await Promise.all(
    pods.list().map(async (p) => [await pods.hostVeth(p).catch(() => undefined), p.name] as const),
  )
  return new Map(pairs.filter((x): x is readonly [string, string] => Boolean(x[0])))
}
