import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {UserError} from '../host/errors.js'
import {workspaceDir} from '../host/paths.js'
import {Cluster, type NodeRecord} from './cluster.js'
import type {PodSpec, RuntimeName, WorkloadName} from '../pods/types.js'

// The pod `ebpfcni pod add` asks for, from what was typed: labels and CNI_ARGS checked, the
// runtime's limits said, and on a lab 5 node the config given that node's pod CIDR.

/** Label keys and values as Kubernetes allows them (values: 63 characters of [A-Za-z0-9._-]). */
const LABEL = /^([A-Za-z0-9][A-Za-z0-9._/-]*)=([A-Za-z0-9._-]{0,63})$/

/** What `pod add` was given, as typed. */
export interface TypedPod {
  name: string
  /** key=value, each. */
  labels?: string[]
  workload: string
  runtime: string
  /** The network config file. */
  config: string
  /** CNI_PATH, colon-separated. */
  cniPath: string
  /** Extra CNI_ARGS, K=V;K=V. */
  cniArgs?: string
  timeoutSeconds: number
  /** Lab 5: the simulated node's name. */
  node?: string
}

export interface PodRequest {
  spec: Partial<PodSpec> & {name: string; configFile: string}
  runtime: RuntimeName
  /** The node the pod runs on (lab 5). */
  node?: NodeRecord
}

function parseLabels(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const l of labels) {
    if (!l.includes('=')) throw new UserError(`label "${l}" must be key=value`, {hint: 'e.g. --label app=httpbin'})
    const m = LABEL.exec(l)
    if (!m)
      throw new UserError(`label "${l}" has characters a Kubernetes label cannot hold`, {
        hint: 'keys and values use letters, digits, ".", "_" and "-" (values at most 63, no spaces): --label app=my-app',
      })
    out[m[1]] = m[2]
  }
  return out
}

/** The pod to make, checked; a UserError says what of the typed request cannot be. */
export function podRequest(typed: TypedPod): PodRequest {
  const labels = parseLabels(typed.labels ?? [])
  if (typed.cniArgs !== undefined && !/^([A-Za-z0-9_]+=[^;=\s]*)(;[A-Za-z0-9_]+=[^;=\s]*)*$/.test(typed.cniArgs)) {
    throw new UserError(`--args "${typed.cniArgs}" is not K=V;K=V`, {
      hint: 'CNI_ARGS is semicolon-separated key=value pairs, e.g. --args "K8S_POD_NAMESPACE=demo;EXTRA=1"',
    })
  }
  if (typed.cniArgs !== undefined && typed.runtime !== 'netns')
    throw new UserError(`--args works with the netns runtime: ${typed.runtime} sets CNI_ARGS itself`)
  if (typed.node && typed.runtime !== 'netns')
    throw new UserError(`--node works with the netns runtime: podman and cri pods run on this machine itself`)
  const cluster = typed.node ? new Cluster() : undefined
  const node = cluster?.get(typed.node as string)
  // Lab 5 step 3: the workspace's built forward.bpf.c, for the plugin to load on the node: where
  // `ebpfcni bpf build ~/ebpfcni-lab/forward.bpf.c` puts it (forward.bpf.o), or forward.o (-o).
  const forwardObject = ['forward.bpf.o', 'forward.o'].map((f) => join(workspaceDir(), f)).find((f) => existsSync(f))
  const configFile =
    node && cluster ? cluster.nodeConfig(node, typed.config, forwardObject ? {forwardObject} : {}) : typed.config
  return {
    spec: {
      name: typed.name,
      labels,
      workload: typed.workload as WorkloadName,
      configFile,
      node: node ? {name: node.name, netnsPath: node.netnsPath} : undefined,
      cniPath: typed.cniPath.split(':').filter(Boolean),
      timeoutMs: typed.timeoutSeconds * 1000,
      cniArgs: typed.cniArgs,
    },
    runtime: typed.runtime as RuntimeName,
    node,
  }
}
