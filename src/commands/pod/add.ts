import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {PodService, DEFAULT_CONFIG, DEFAULT_CNI_PATH} from '../../pods/service.js'
import {podRequest} from '../../nodes/pod-request.js'
import type {PodRecord} from '../../pods/types.js'
import {pluginOnPath, pluginType} from '../../cni/config.js'
import {pluginCopies} from '../../labs/install.js'

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
    const cniPath = flags['cni-path']
    const {spec, runtime, node} = podRequest({
      ...flags,
      name: args.name,
      labels: flags.label,
      cniPath,
      cniArgs: flags.args,
      timeoutSeconds: flags.timeout,
    })
    // pod add runs the installed plugin; only check installs the workspace's: say which copy runs.
    const {installed, mine, differs} = pluginCopies(flags.config, cniPath)
    if (differs)
      this.logToStderr(
        chalk.yellow(
          `note: this runs ${installed}, not your edited ${mine}: ebpfcni check N (your lab) installs it, or install -m 755 ${mine} ${installed}`,
        ),
      )
    const pod = await new PodService().add(spec, runtime)
    this.log(
      `${chalk.green('✔')} pod ${chalk.bold(pod.name)} (${pod.runtime}${pod.node ? ` on node ${pod.node}` : ''}) ip ${pod.ip ?? 'none'} mac ${pod.mac ?? '?'} netns ${pod.netnsPath}`,
    )
    // The netns runtime is a CNI runtime by hand: what it did, as one would type it.
    if (pod.runtime === 'netns' && pod.netnsName && !node)
      this.sameAs([
        `ip netns add ${pod.netnsName}`,
        ...plainCommands.cniCall('ADD', installed, flags.config, pod.containerId, pod.netnsPath, cniPath),
      ])
    if (node)
      this.sameAs([
        `ip netns add ${pod.netnsName}`,
        `nsenter --net=${node.netnsPath} env CNI_COMMAND=ADD CNI_CONTAINERID=${pod.containerId} CNI_NETNS=${pod.netnsPath} CNI_IFNAME=eth0 CNI_PATH=${cniPath} ${pluginOnPath(cniPath, pluginType(spec.configFile))} < ${spec.configFile}`,
      ])
    return pod
  }
}
