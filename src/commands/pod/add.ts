import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {PodService, DEFAULT_CONFIG, DEFAULT_CNI_PATH} from '../../pods/service.js'
import {UserError} from '../../host/errors.js'
import type {PodRecord, RuntimeName, WorkloadName} from '../../pods/types.js'
import {Cluster} from '../../nodes/cluster.js'
import {workspaceDir} from '../../host/paths.js'
import {installedCopyDiffers} from '../../labs/install.js'

/** Label keys and values as Kubernetes allows them (values: 63 characters of [A-Za-z0-9._-]). */
const LABEL = /^([A-Za-z0-9][A-Za-z0-9._/-]*)=([A-Za-z0-9._-]{0,63})$/

/** The plugin a config names (a conflist's first), for the "same as" line. */
function pluginType(configFile: string): string {
  try {
    const c = JSON.parse(readFileSync(configFile, 'utf8')) as {type?: string; plugins?: Array<{type?: string}>}
    return c.type ?? c.plugins?.[0]?.type ?? 'PLUGIN'
  } catch {
    return 'PLUGIN'
  }
}

/** Where the runtime finds the plugin: the first CNI_PATH directory that has it. */
const pluginOnPath = (cniPath: string, type: string): string => {
  const dirs = cniPath.split(':').filter(Boolean)
  return join(dirs.find((d) => existsSync(join(d, type))) ?? dirs[0] ?? '.', type)
}

export default class PodAdd extends BaseCommand {
  static summary = 'Create a pod and attach it through the CNI path, as a runtime would.'
  static description =
    "netns runtime (default): ebpfcni creates a network namespace, calls the plugin's ADD with the CNI_* variables and the config on stdin, and starts the workload inside. podman runtime: podman runs a busybox container on the network and calls the plugin itself. cri runtime: ebpfcni talks CRI to its own containerd as the kubelet does (RunPodSandbox, CreateContainer, StartContainer); containerd's CRI plugin calls the plugin in the CNI bin dir with the first config in the config's directory, and a failure shows the sandbox error `kubectl describe pod` would."

  static examples = [
    '<%= config.bin %> pod add httpbin --label app=httpbin',
    '<%= config.bin %> pod add sleep --label app=sleep --workload sleep',
    '<%= config.bin %> pod add web --runtime cri --label app=httpbin',
    '<%= config.bin %> pod add a --args "K8S_POD_NAMESPACE=demo"',
    '<%= config.bin %> pod add a --config ./my.conflist --cni-path /usr/lib/cni',
    '<%= config.bin %> pod add web --node b --label app=web',
  ]

  static enableJsonFlag = true
  static args = {
    name: Args.string({ignoreStdin: true, description: 'Pod name (lowercase letters, digits, -).', required: true}),
  }
  static flags = {
    label: Flags.string({
      char: 'l',
      description: 'Label key=value (repeatable); policies select pods by label.',
      multiple: true,
    }),
    workload: Flags.string({description: 'What runs in the pod.', options: ['httpbin', 'sleep'], default: 'httpbin'}),
    runtime: Flags.string({
      description: "Pod runtime: netns (ebpfcni calls the plugin), podman, or cri (the kubelet's path).",
      options: ['netns', 'podman', 'cri'],
      default: 'netns',
    }),
    config: Flags.string({description: 'Network config (.conf or .conflist).', default: DEFAULT_CONFIG}),
    'cni-path': Flags.string({
      description: 'CNI_PATH: directories searched for plugins (colon-separated).',
      default: DEFAULT_CNI_PATH.join(':'),
    }),
    args: Flags.string({
      description: 'Extra CNI_ARGS, K=V;K=V (netns runtime), after IgnoreUnknown=1;K8S_POD_NAME;K8S_POD_NAMESPACE.',
    }),
    timeout: Flags.integer({description: 'Seconds each plugin call may take.', default: 10, min: 1}),
    node: Flags.string({
      description:
        "Lab 5: run the pod on this simulated node (ebpfcni node add). The plugin runs in the node's network namespace (nsenter --net) with the config given the node's pod CIDR and every node's addresses. netns runtime only: podman and cri pods run on this machine itself.",
    }),
  }

  async run(): Promise<PodRecord> {
    const {args, flags} = await this.parse(PodAdd)
    const labels: Record<string, string> = {}
    for (const l of flags.label ?? []) {
      if (!l.includes('=')) throw new UserError(`label "${l}" must be key=value`, {hint: 'e.g. --label app=httpbin'})
      const m = LABEL.exec(l)
      if (!m)
        throw new UserError(`label "${l}" has characters a Kubernetes label cannot hold`, {
          hint: 'keys and values use letters, digits, ".", "_" and "-" (values at most 63, no spaces): --label app=my-app',
        })
      labels[m[1]] = m[2]
    }
    if (flags.args !== undefined && !/^([A-Za-z0-9_]+=[^;=\s]*)(;[A-Za-z0-9_]+=[^;=\s]*)*$/.test(flags.args)) {
      throw new UserError(`--args "${flags.args}" is not K=V;K=V`, {
        hint: 'CNI_ARGS is semicolon-separated key=value pairs, e.g. --args "K8S_POD_NAMESPACE=demo;EXTRA=1"',
      })
    }
    if (flags.args !== undefined && flags.runtime !== 'netns')
      throw new UserError(`--args works with the netns runtime: ${flags.runtime} sets CNI_ARGS itself`)
    if (flags.node && flags.runtime !== 'netns')
      throw new UserError(`--node works with the netns runtime: podman and cri pods run on this machine itself`)
    const cluster = flags.node ? new Cluster() : undefined
    const node = cluster?.get(flags.node as string)
    // Lab 5 step 3: the workspace's built forward.bpf.c, for the plugin to load on the node: where
    // `ebpfcni bpf build ~/ebpfcni-lab/forward.bpf.c` puts it (forward.bpf.o), or forward.o (-o).
    const forwardObject = ['forward.bpf.o', 'forward.o'].map((f) => join(workspaceDir(), f)).find((f) => existsSync(f))
    const configFile =
      node && cluster ? cluster.nodeConfig(node, flags.config, forwardObject ? {forwardObject} : {}) : flags.config
    // pod add runs the installed plugin; only check installs the workspace's: say which copy runs.
    const type = pluginType(flags.config)
    const installed = pluginOnPath(flags['cni-path'], type)
    const mine = join(workspaceDir(), type)
    if (installedCopyDiffers(mine, installed))
      this.logToStderr(
        chalk.yellow(
          `note: this runs ${installed}, not your edited ${mine}: ebpfcni check N (your lab) installs it, or install -m 755 ${mine} ${installed}`,
        ),
      )
    const pod = await new PodService().add(
      {
        name: args.name,
        labels,
        workload: flags.workload as WorkloadName,
        configFile,
        node: node ? {name: node.name, netnsPath: node.netnsPath} : undefined,
        cniPath: flags['cni-path'].split(':').filter(Boolean),
        timeoutMs: flags.timeout * 1000,
        cniArgs: flags.args,
      },
      flags.runtime as RuntimeName,
    )
    this.log(
      `${chalk.green('✔')} pod ${chalk.bold(pod.name)} (${pod.runtime}${pod.node ? ` on node ${pod.node}` : ''}) ip ${pod.ip ?? 'none'} mac ${pod.mac ?? '?'} netns ${pod.netnsPath}`,
    )
    // The netns runtime is a CNI runtime by hand: what it did, as one would type it.
    if (pod.runtime === 'netns' && pod.netnsName && !node)
      this.sameAs([
        `ip netns add ${pod.netnsName}`,
        ...plainCommands.cniCall('ADD', installed, flags.config, pod.containerId, pod.netnsPath, flags['cni-path']),
      ])
    if (node)
      this.sameAs([
        `ip netns add ${pod.netnsName}`,
        `nsenter --net=${node.netnsPath} env CNI_COMMAND=ADD CNI_CONTAINERID=${pod.containerId} CNI_NETNS=${pod.netnsPath} CNI_IFNAME=eth0 CNI_PATH=${flags['cni-path']} ${pluginOnPath(flags['cni-path'], pluginType(configFile))} < ${configFile}`,
      ])
    return pod
  }
}
