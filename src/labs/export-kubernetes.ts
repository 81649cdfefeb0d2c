import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {requireEmptyDir} from './export.js'
import {join} from 'node:path'
import {stringify} from 'yaml'
import {UserError} from '../host/errors.js'
import {BPF_PIN_ROOT, CNI_BIN_DIR, CNI_CONF_DIR} from '../host/paths.js'
import {loadLabs} from './catalogue.js'
import {moduleOf} from './registry.js'
import {workspaceStatus} from './session.js'
import type {LabAgent} from './lab-module.js'

// The attendee's work onto a real cluster: their plugin, its config and their compiled program,
// installed on every node by a DaemonSet, as real CNIs install themselves (Cilium's and Calico's
// install-cni init containers copy the plugin to /opt/cni/bin and the config to /etc/cni/net.d).
// The files travel in a ConfigMap; the program is loaded and pinned by ebpfcni itself, in an image
// built from this repository (the Dockerfile written here): bpftool cannot set libbpf's pin root,
// and the labs' programs pin their maps under /sys/fs/bpf/ebpfcni.

export const NAMESPACE = 'kube-system'
export const IMAGE = 'ebpfcni:local'

export interface KubernetesExport {
  /** The objects, in the order they are applied. */
  objects: Array<Record<string, unknown>>
  files: string[]
}

const INSTALL_SCRIPT = `#!/bin/sh
# ebpfcni's install step on a node (the DaemonSet's init container): the plugin and its config where
# the container runtime looks, then the program, loaded and pinned where the plugin looks.
set -eu
install -m 0755 /files/ebpfcni /host${CNI_BIN_DIR}/ebpfcni
install -m 0644 /files/10-ebpfcni.conf /host${CNI_CONF_DIR}/10-ebpfcni.conf
if [ -f /files/ebpfcni.bpf.o ]; then
  ebpfcni bpf load /files/ebpfcni.bpf.o --replace
fi
echo "ebpfcni installed on $(hostname)"
`

/** The policy controller's name: its role, binding and container. */
const CONTROLLER = 'ebpfcni-policy'
/** The DaemonSet's service account: the policy controller's and the labs' agents' roles are bound to it. */
export const NODE_ACCOUNT = 'ebpfcni-node'
/** Where a lab agent's container sees the node's cgroup hierarchy (a hostPath of /sys/fs/cgroup). */
export const HOST_CGROUP = '/host/sys/fs/cgroup'

/** A lab's node agent as exported: its lab, its files (made from the workspace), its API rights. */
export interface ExportedAgent {
  lab: number
  slug: string
  summary: string
  rbac: LabAgent['rbac']
  files: Record<string, Buffer>
}

/**
 * The labs' node agents to export from a workspace: those whose step is done there, or all of
 * them (include true) or none (include false). Each one's files are made now (a program built).
 */
export async function labAgents(workspace: string, include?: boolean): Promise<ExportedAgent[]> {
  if (include === false) return []
  const status = workspaceStatus(workspace)
  const out: ExportedAgent[] = []
  for (const lab of loadLabs()) {
    const agent = (await moduleOf(lab))?.agent
    if (!agent) continue
    const done = status.find((l) => l.lab === lab.id)?.steps.find((st) => st.id === agent.step)?.done
    if (include !== true && !done) continue
    out.push({
      lab: lab.id,
      slug: lab.slug,
      summary: agent.summary,
      rbac: agent.rbac,
      files: await agent.files(workspace),
    })
  }
  return out
}

/** A ClusterRole with these rules, bound to the node's service account. */
function boundRole(name: string, rules: LabAgent['rbac'], labels: Record<string, string>) {
  return [
    {apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: {name, labels}, rules},
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: {name, labels},
      roleRef: {apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name},
      subjects: [{kind: 'ServiceAccount', name: NODE_ACCOUNT, namespace: NAMESPACE}],
    },
  ]
}

/** A lab agent's container (`ebpfcni agent N`), its ConfigMap and its role. */
function agentParts(a: ExportedAgent, labels: Record<string, string>) {
  const name = `ebpfcni-agent-${a.slug}`
  const text: Record<string, string> = {}
  const binary: Record<string, string> = {}
  // Text files travel as data, anything else (a built object) as binaryData.
  for (const [f, bytes] of Object.entries(a.files)) {
    const utf8 = bytes.toString('utf8')
    if (Buffer.from(utf8, 'utf8').equals(bytes) && !utf8.includes('\0')) text[f] = utf8
    else binary[f] = bytes.toString('base64')
  }
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {name, namespace: NAMESPACE, labels},
    data: text,
    ...(Object.keys(binary).length ? {binaryData: binary} : {}),
  }
  const filesDir = `/agent-${a.slug}`
  const container = {
    name: `agent-${a.slug}`,
    image: IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command: [
      'ebpfcni',
      'agent',
      String(a.lab),
      '--files',
      filesDir,
      '--cgroup',
      HOST_CGROUP,
      '--pin-dir',
      BPF_PIN_ROOT,
    ],
    securityContext: {privileged: true},
    volumeMounts: [
      {name: `files-${a.slug}`, mountPath: filesDir},
      {name: 'bpffs', mountPath: '/sys/fs/bpf', mountPropagation: 'Bidirectional'},
      // The node's own cgroup tree (not the container's namespace): programs attach at its root.
      {name: 'host-cgroup', mountPath: HOST_CGROUP},
    ],
  }
  const volume = {name: `files-${a.slug}`, configMap: {name}}
  return {configMap, container, volume, rbac: boundRole(name, a.rbac, labels)}
}
/** Where a node's containerd listens (kubeadm, kind): the controller reads pods from it (CRI). */
export const NODE_CRI_SOCKET = '/run/containerd/containerd.sock'

/**
 * Lab 4's controller on every node, beside the install: `policy watch` with pods from the node's
 * own CRI runtime (labels, addresses, network namespaces) and NetworkPolicies from the API. Per
 * node, not a Deployment: the rule maps it writes are pinned on each node's own bpffs, which a
 * controller on one node cannot reach (Cilium's agent, which writes them, is a DaemonSet too).
 */
function policyController(labels: Record<string, string>) {
  // What it reads, nothing more: the controller only lists NetworkPolicies (pods come from CRI).
  const rbac = boundRole(
    CONTROLLER,
    [{apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch']}],
    labels,
  )
  const container = {
    name: 'policy',
    image: IMAGE,
    imagePullPolicy: 'IfNotPresent',
    command: [
      'ebpfcni',
      'policy',
      'watch',
      '--pods',
      'cri',
      '--cri-socket',
      NODE_CRI_SOCKET,
      '--policies',
      'kubernetes',
    ],
    securityContext: {privileged: true},
    volumeMounts: [
      {name: 'bpffs', mountPath: '/sys/fs/bpf', mountPropagation: 'Bidirectional'},
      {name: 'cri-socket', mountPath: NODE_CRI_SOCKET},
      // Pods' network namespaces, as the runtime names them: the controller attaches to their veths.
      {name: 'netns', mountPath: '/var/run/netns', mountPropagation: 'HostToContainer'},
    ],
  }
  return {rbac, container}
}

export interface KubernetesOptions {
  /** Lab 4's policy controller (the command asks once lab 4's NetworkPolicy step is done). */
  policyController?: boolean
  /** The labs' node agents (labAgents()). */
  agents?: ExportedAgent[]
}

/** The manifests for a workspace: its plugin and config, its built program when there is one, lab
 *  4's policy controller and the labs' node agents when asked. */
export function kubernetesObjects(workspace: string, opts: KubernetesOptions = {}): KubernetesExport {
  const read = (f: string) => {
    const p = join(workspace, f)
    if (!existsSync(p))
      throw new UserError(`${p} is missing`, {hint: 'export the workspace of a lab you have done (lab 1 at least)'})
    return readFileSync(p, 'utf8')
  }
  const plugin = read('ebpfcni')
  const config = read('10-ebpfcni.conf')
  const object = join(workspace, 'ebpfcni.bpf.o')
  const hasObject = existsSync(object)
  const labels = {'app.kubernetes.io/name': 'ebpfcni'}
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {name: 'ebpfcni-files', namespace: NAMESPACE, labels},
    data: {ebpfcni: plugin, '10-ebpfcni.conf': config, 'install.sh': INSTALL_SCRIPT},
    ...(hasObject ? {binaryData: {'ebpfcni.bpf.o': readFileSync(object).toString('base64')}} : {}),
  }
  const hostPath = (name: string, path: string, type: string) => ({name, hostPath: {path, type}})
  const policy = opts.policyController ? policyController(labels) : undefined
  const agents = (opts.agents ?? []).map((a) => agentParts(a, labels))
  const serviceAccount =
    policy || agents.length
      ? {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: NODE_ACCOUNT, namespace: NAMESPACE, labels}}
      : undefined
  const workers = [...(policy ? [policy.container] : []), ...agents.map((a) => a.container)]
  const daemonSet = {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: {name: 'ebpfcni-node', namespace: NAMESPACE, labels},
    spec: {
      selector: {matchLabels: labels},
      updateStrategy: {type: 'RollingUpdate'},
      template: {
        metadata: {labels},
        spec: {
          hostNetwork: true,
          priorityClassName: 'system-node-critical',
          // Every node, the control plane and not-ready ones included: without a CNI none is ready.
          tolerations: [{operator: 'Exists'}],
          initContainers: [
            {
              name: 'install',
              image: IMAGE,
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sh', '/files/install.sh'],
              securityContext: {privileged: true},
              volumeMounts: [
                {name: 'files', mountPath: '/files'},
                {name: 'cni-bin', mountPath: `/host${CNI_BIN_DIR}`},
                {name: 'cni-conf', mountPath: `/host${CNI_CONF_DIR}`},
                // Pins made in the container must be the host's: bidirectional propagation.
                {name: 'bpffs', mountPath: '/sys/fs/bpf', mountPropagation: 'Bidirectional'},
              ],
            },
          ],
          ...(serviceAccount ? {serviceAccountName: NODE_ACCOUNT} : {}),
          // After the install the plugin is called by the runtime and the program by the kernel:
          // only lab 4's controller and the labs' agents, when exported, have work to do;
          // otherwise a pause container.
          containers: workers.length
            ? workers
            : [{name: 'pause', image: 'registry.k8s.io/pause:3.9', resources: {requests: {cpu: '1m'}}}],
          volumes: [
            {name: 'files', configMap: {name: 'ebpfcni-files', defaultMode: 0o755}},
            hostPath('cni-bin', CNI_BIN_DIR, 'DirectoryOrCreate'),
            hostPath('cni-conf', CNI_CONF_DIR, 'DirectoryOrCreate'),
            hostPath('bpffs', '/sys/fs/bpf', 'Directory'),
            ...(policy
              ? [
                  hostPath('cri-socket', NODE_CRI_SOCKET, 'Socket'),
                  hostPath('netns', '/var/run/netns', 'DirectoryOrCreate'),
                ]
              : []),
            ...(agents.length ? [hostPath('host-cgroup', '/sys/fs/cgroup', 'Directory')] : []),
            ...agents.map((a) => a.volume),
          ],
        },
      },
    },
  }
  return {
    objects: [
      ...(serviceAccount ? [serviceAccount] : []),
      ...(policy?.rbac ?? []),
      ...agents.flatMap((a) => a.rbac),
      configMap,
      ...agents.map((a) => a.configMap),
      daemonSet,
    ],
    files: [
      'ebpfcni',
      '10-ebpfcni.conf',
      ...(hasObject ? ['ebpfcni.bpf.o'] : []),
      ...(opts.agents ?? []).flatMap((a) => Object.keys(a.files)),
    ],
  }
}

/** The image the init container runs: ebpfcni itself, with libbpf and bpftool (built from the repository). */
export const DOCKERFILE = `# ebpfcni's node image (the DaemonSet's init container): build it at the repository's root.
#   docker build -t ${IMAGE} -f DIR/Dockerfile .        kind: kind load docker-image ${IMAGE}
FROM node:22-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libbpf1 bpftool iproute2 jq util-linux \\
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ebpfcni
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts
COPY bin bin
COPY dist dist
COPY labs labs
COPY bpf bpf
COPY oclif.manifest.json ./
RUN ln -s /opt/ebpfcni/bin/run.js /usr/local/bin/ebpfcni
`

/** Write ebpfcni.yaml, the Dockerfile and a README into `dir` (new or empty). */
export function exportKubernetes(workspace: string, dir: string, opts: KubernetesOptions = {}): string[] {
  requireEmptyDir(dir)
  const k = kubernetesObjects(workspace, opts)
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'ebpfcni.yaml'), k.objects.map((o) => stringify(o, {lineWidth: 0})).join('---\n'))
  writeFileSync(join(dir, 'Dockerfile'), DOCKERFILE)
  writeFileSync(
    join(dir, 'README.md'),
    `# ebpfcni on a cluster\n\nFrom the workspace ${workspace}: ${k.files.join(', ')}.\nSteps: docs/kubernetes.md in the ebpfcni repository.\n\n1. \`docker build -t ${IMAGE} -f ${dir}/Dockerfile .\` (at the repository's root), then make the image available to the nodes (\`kind load docker-image ${IMAGE}\`).\n2. \`kubectl apply -f ${dir}/ebpfcni.yaml\`\n3. \`kubectl -n ${NAMESPACE} logs -l app.kubernetes.io/name=ebpfcni -c install\`\n\n${opts.policyController ? `Lab 4's policy controller runs on every node (container \`policy\` of the DaemonSet): pods from the node's containerd (${NODE_CRI_SOCKET}), NetworkPolicies from the API (service account ${NODE_ACCOUNT}, which may list them).\n\n` : ''}${(opts.agents ?? []).map((a) => `Lab ${a.lab}'s node agent runs on every node (container \`agent-${a.slug}\`, \`ebpfcni agent ${a.lab}\`): ${a.summary}. It may ${a.rbac.map((r) => `${r.verbs.join('/')} ${r.resources.join(', ')}`).join('; ')}.\n\n`).join('')}The program is pinned under ${BPF_PIN_ROOT} on each node; the plugin (bash) needs jq, iproute2 and util-linux (nsenter, flock) on the node itself.\n`,
  )
  return ['ebpfcni.yaml', 'Dockerfile', 'README.md']
}
