import type {CniResult} from '../cni/spec.js'

export type RuntimeName = 'netns' | 'podman' | 'cri'
export type WorkloadName = 'httpbin' | 'sleep'

export interface PodSpec {
  name: string
  labels: Record<string, string>
  workload: WorkloadName
  /** Network config file (.conf or .conflist). */
  configFile: string
  cniPath: string[]
  timeoutMs: number
  ifname: string
  /** Which lab made it (for `reset --lab N`); absent for pods made by hand. */
  lab?: number
  /** Extra CNI_ARGS (K=V;K=V) after the runtime's own (netns runtime). */
  cniArgs?: string
  /** The simulated node the pod runs on (lab 5; netns runtime): the plugin runs in its netns. */
  node?: {name: string; netnsPath: string}
}

/** What the tool knows about a pod; kept in the resource ledger (kind "pod"). */
export interface PodRecord {
  name: string
  runtime: RuntimeName
  containerId: string
  /** Path of the pod's network namespace (CNI_NETNS). */
  netnsPath: string
  /** Named netns (netns runtime only). */
  netnsName?: string
  ifname: string
  configFile: string
  cniPath: string[]
  labels: Record<string, string>
  workload: WorkloadName
  /** The ADD result, cached for DEL and CHECK as the spec asks of runtimes. */
  result?: CniResult
  ip?: string
  mac?: string
  createdAt: string
  /** podman runtime: the conflist written for podman (removed with the network's last pod). */
  podmanNetworkFile?: string
  /** podman runtime: the netns that existed before `podman run`, to find the one a killed run left. */
  netnsBefore?: string[]
  /** netns runtime: the CNI_ARGS ADD was called with (DEL and CHECK repeat them, as libcni does). */
  cniArgs?: string
  /** cri runtime: the pod uid given to RunPodSandbox (finds a sandbox whose id was never learnt). */
  criUid?: string
  /** netns runtime on a simulated node (lab 5): the node, and its netns (where the plugin runs). */
  node?: string
  nodeNetns?: string
}

export interface PodRuntime {
  readonly name: RuntimeName
  add(spec: PodSpec): Promise<PodRecord>
  /** Remove the pod; DEL problems are reported after everything else is cleaned up. */
  remove(pod: PodRecord): Promise<void>
  /** Arguments that run a command inside the pod's network namespace. */
  execArgs(pod: PodRecord, cmd: string[]): [string, string[]]
}

/** A new pod's record: what every runtime keeps from the spec, and the runtime's own fields. */
export function newPodRecord(
  spec: PodSpec,
  own: Pick<PodRecord, 'runtime' | 'containerId' | 'netnsPath' | 'ifname'> & Partial<PodRecord>,
): PodRecord {
  return {
    name: spec.name,
    configFile: spec.configFile,
    cniPath: spec.cniPath,
    labels: spec.labels,
    workload: spec.workload,
    createdAt: new Date().toISOString(),
    ...own,
  }
}

export const POD_NAME = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/
