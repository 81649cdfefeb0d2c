import {Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand, untilStopped} from '../../ui/base-command.js'
import {PolicyController} from '../../policy/controller.js'
import {controllerService, type ControllerSources} from '../../policy/controller-sources.js'
import {startBackgroundController, stopControllerProcesses} from '../../policy/background.js'
import {followApiPolicies} from '../../policy/kubernetes-policies.js'
import {apiRefreshText, controllerEventLine, watchingLine} from '../../ui/controller-view.js'
import {pinDirFlag} from '../../ui/policy-flags.js'
import {signalReady} from '../../host/background.js'

export default class PolicyWatch extends BaseCommand {
  static summary = 'The controller: keep the maps in line with policies and pods as they change.'
  static description = `Event-driven: it reacts to pod records changing (ebpfcni pod add/del), to policy changes (policy apply/delete/deny/allow) and to edits of the files policies were applied from. Each change is applied as a difference (allows before isolation, removals last), never a wipe and rewrite.`
  static examples = [
    '<%= config.bin %> policy watch',
    '<%= config.bin %> policy watch --pods cri',
    '<%= config.bin %> policy watch --background',
    '<%= config.bin %> policy watch --stop',
    '<%= config.bin %> policy watch --pods cri --cri-socket /run/containerd/containerd.sock --policies kubernetes',
    '<%= config.bin %> policy watch --policies kubernetes --api-server http://127.0.0.1:8001   # kubectl proxy',
  ]
  static flags = {
    ...pinDirFlag,
    background: Flags.boolean({description: 'Run in the background (stopped by --stop or ebpfcni reset).'}),
    stop: Flags.boolean({description: 'Stop controllers started with --background.'}),
    for: Flags.integer({description: 'Stop after this many seconds (default: until Ctrl-C).', min: 1}),
    json: Flags.boolean({
      description: 'One JSON object per change (NDJSON) instead of text.',
      exclusive: ['background', 'stop'],
    }),
    pods: Flags.string({
      description:
        "Where pods and their labels come from: ebpfcni's pod records, or the CRI runtime (ListPodSandbox, as the original controller read the Kubernetes API).",
      options: ['records', 'cri'],
      default: 'records',
    }),
    'cri-socket': Flags.string({
      description:
        "The CRI runtime's socket, with --pods cri (default: ebpfcni's own containerd; on a node: /run/containerd/containerd.sock).",
    }),
    policies: Flags.string({
      description:
        'Where NetworkPolicies come from: the files and rules given to ebpfcni, or also the Kubernetes API (every namespace, polled; each policy scoped to its namespace).',
      options: ['files', 'kubernetes'],
      default: 'files',
    }),
    'api-server': Flags.string({
      description:
        "The Kubernetes API's URL, with --policies kubernetes (default: in-cluster, from the pod's service account; kubectl proxy gives http://127.0.0.1:8001).",
    }),
    resync: Flags.integer({
      description: 'Seconds between two reads of the Kubernetes API, with --policies kubernetes.',
      default: 2,
      min: 1,
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(PolicyWatch)
    if (flags.stop) {
      const n = await stopControllerProcesses()
      return this.log(n ? `stopped ${n} controller(s)` : 'no background controller was running')
    }
    const sources: ControllerSources = {
      pinDir: flags['pin-dir'],
      pods: flags.pods as ControllerSources['pods'],
      criSocket: flags['cri-socket'],
      policies: flags.policies as ControllerSources['policies'],
      apiServer: flags['api-server'],
      resync: flags.resync,
    }
    const {svc, api} = await controllerService(sources)
    if (flags.background) {
      const {pid, log} = await startBackgroundController(sources)
      return this.log(
        `${chalk.green('✔')} policy controller running (pid ${pid}); log ${log}; stop with: ebpfcni policy watch --stop`,
      )
    }
    const controller = new PolicyController(svc, {onEvent: (e) => this.log(controllerEventLine(e, flags.json))})
    await controller.start()
    // NetworkPolicies from the API go into the policy store; the controller's store watch applies them.
    const stopApi =
      api && followApiPolicies(api, svc.store, flags.resync, (r) => this.log(apiRefreshText(r, flags.json)))
    this.log(watchingLine(controller.polling, flags.json))
    signalReady()
    await untilStopped(flags.for)
    stopApi?.()
    controller.stop()
  }
}
