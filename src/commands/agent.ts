import {Args, Flags} from '#oclif'
import {BaseCommand, untilStopped} from '../ui/base-command.js'
import {labModule} from '../labs/registry.js'
import {apiServerUrl, inClusterApi} from '../policy/kubernetes-api.js'
import {BPF_PIN_ROOT} from '../host/paths.js'
import {UserError} from '../host/errors.js'
import {onInterrupt} from '../host/interrupt.js'
import {workspaceDir} from '../host/paths.js'
import {loadLabs} from '../labs/catalogue.js'
import {workspaceFlag} from '../ui/common-flags.js'

export default class Agent extends BaseCommand {
  static summary = "Run a lab's node agent: its work on a Kubernetes node, in line with the API."
  static description =
    "What `ebpfcni export kubernetes` runs in the DaemonSet on every node, beside the plugin's install, for each lab that has a node agent. --files is the folder of the agent's files (on a node, the ConfigMap's mount; by hand, the files of an export's ConfigMap). --cgroup is the cgroup v2 hierarchy (or a cgroup under it) whose processes it serves. The API is read every --resync seconds, in-cluster from the pod's service account unless --api-server is given (kubectl proxy: http://127.0.0.1:8001). On Ctrl-C or SIGTERM it detaches what it attached."
  static examples = [
    '<%= config.bin %> agent 6 --files /agent-services --cgroup /host/sys/fs/cgroup',
    '<%= config.bin %> agent 6 --files ./k8s-files --cgroup /sys/fs/cgroup/unified --api-server http://127.0.0.1:8001',
  ]
  static args = {
    lab: Args.integer({ignoreStdin: true, required: true, description: 'The lab whose agent to run.'}),
  }
  static flags = {
    files: Flags.string({description: "The agent's files (default: the workspace)."}),
    cgroup: Flags.string({
      description: 'The cgroup v2 directory whose processes it serves (a hybrid root: its unified/ is used).',
      default: '/sys/fs/cgroup',
    }),
    'api-server': Flags.string({
      description: "The Kubernetes API's URL (default: in-cluster, from the pod's service account).",
    }),
    'pin-dir': Flags.string({description: 'Where its maps and programs are pinned.', default: BPF_PIN_ROOT}),
    resync: Flags.integer({description: 'Seconds between two reads of the Kubernetes API.', default: 2, min: 1}),
    for: Flags.integer({description: 'Stop after this many seconds (default: until Ctrl-C or SIGTERM).', min: 1}),
    workspace: workspaceFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Agent)
    const agent = (await labModule(args.lab))?.agent
    if (!agent) {
      const withAgents: number[] = []
      for (const l of loadLabs()) if ((await labModule(l.id))?.agent) withAgents.push(l.id)
      throw new UserError(`lab ${args.lab} has no node agent`, {
        hint: `labs with one: ${withAgents.join(', ') || 'none'}`,
      })
    }
    const api = flags['api-server'] ? {url: apiServerUrl(flags['api-server'])} : inClusterApi()
    const done = agent.run({
      filesDir: flags.files ?? workspaceDir(flags.workspace),
      cgroup: flags.cgroup,
      api,
      pinDir: flags['pin-dir'],
      resyncMs: flags.resync * 1000,
      log: (line) => this.log(line),
      stop: untilStopped(flags.for),
    })
    // A signal stops the loop (untilStopped); the agent detaches before the process exits.
    const off = onInterrupt(() =>
      done.then(
        () => undefined,
        () => undefined,
      ),
    )
    try {
      await done
    } finally {
      off()
    }
  }
}
