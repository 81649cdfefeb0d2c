import {Flags} from '@oclif/core'
import chalk from 'chalk'
import {join} from 'node:path'
import {BaseCommand, untilStopped} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {PolicyController} from '../../policy/controller.js'
import {CriPodSource, LedgerPodSource} from '../../policy/pods.js'
import {startControllerProcess, stopControllerProcesses} from '../../policy/background.js'
import {pinDirFlag} from '../../ui/policy-flags.js'
import {packageRoot} from '../../host/paths.js'
import {UserError} from '../../host/errors.js'
import {signalReady} from '../../host/background.js'
import {inClusterApi, type ApiServer} from '../../policy/kubernetes-api.js'
import {KubernetesPolicySource, withNamespaceLabel, type PolicyRefresh} from '../../policy/kubernetes-policies.js'
import type {PodSource} from '../../policy/pods.js'

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
    let pods: PodSource | undefined
    if (flags.pods === 'cri') {
      const cri = flags['cri-socket'] ? new CriPodSource(flags['cri-socket']) : new CriPodSource()
      pods = cri
      await cri.refresh().catch((err: Error) => {
        throw new UserError(`cannot list pods from the CRI runtime: ${err.message}`, {
          hint: flags['cri-socket']
            ? `is the runtime listening on ${flags['cri-socket']}? (crictl --runtime-endpoint unix://${flags['cri-socket']} pods)`
            : "start pods with ebpfcni pod add NAME --runtime cri first (that starts ebpfcni's containerd)",
        })
      })
    }
    let api: ApiServer | undefined
    if (flags.policies === 'kubernetes') {
      api = flags['api-server'] ? {url: apiUrl(flags['api-server'])} : inClusterApi()
      pods = withNamespaceLabel(pods ?? new LedgerPodSource())
    }
    const svc = new PolicyService({pinDir: flags['pin-dir'], pods})
    svc.mode() // a clear error now if lab 4's maps are not pinned
    if (flags.background) {
      const {pid, log} = await startControllerProcess(join(packageRoot(), 'bin', 'run.js'), [
        '--pin-dir',
        flags['pin-dir'],
        '--pods',
        flags.pods,
        ...(flags['cri-socket'] ? ['--cri-socket', flags['cri-socket']] : []),
        '--policies',
        flags.policies,
        ...(flags['api-server'] ? ['--api-server', flags['api-server']] : []),
        '--resync',
        String(flags.resync),
      ]).catch((err: Error) => {
        throw new UserError(err.message)
      })
      return this.log(
        `${chalk.green('✔')} policy controller running (pid ${pid}); log ${log}; stop with: ebpfcni policy watch --stop`,
      )
    }
    const controller = new PolicyController(svc, {
      onEvent: (e) =>
        this.log(
          flags.json
            ? JSON.stringify({time: new Date().toISOString(), ...e})
            : e.error
              ? `${chalk.red('✘')} ${e.reason}: ${e.error}`
              : `${chalk.green('✔')} ${e.reason}: ${e.written} written, ${e.removed} removed (${e.durationMs?.toFixed(1)} ms)`,
        ),
    })
    await controller.start()
    // NetworkPolicies from the API go into the policy store; the controller's store watch applies them.
    const stopApi = api
      ? new KubernetesPolicySource(api, svc.store).start(flags.resync * 1000, (r) => {
          if (!('error' in r) && !r.put.length && !r.deleted.length && !r.skipped.length) return
          this.log(flags.json ? JSON.stringify({time: new Date().toISOString(), kubernetes: r}) : describeRefresh(r))
        })
      : undefined
    if (flags.json)
      this.log(JSON.stringify({time: new Date().toISOString(), watching: true, polling: controller.polling ?? false}))
    else
      this.log(
        `watching pods and policies${controller.polling ? ` (polling: ${controller.polling})` : ''}; Ctrl-C to stop`,
      )
    signalReady()
    await untilStopped(flags.for)
    stopApi?.()
    controller.stop()
  }
}

/** A read of the API, in lines: what it put, what went, what cannot be enforced, or why it failed. */
function describeRefresh(r: PolicyRefresh | {error: string}): string {
  if ('error' in r) return `${chalk.red('✘')} Kubernetes API: ${r.error}`
  return [
    ...r.put.map((n) => `${chalk.green('✔')} NetworkPolicy ${n} from the API`),
    ...r.deleted.map((n) => `${chalk.green('✔')} NetworkPolicy ${n} gone from the API`),
    ...r.skipped.map((m) => `${chalk.yellow('!')} not enforced: ${m}`),
  ].join('\n')
}

/** The --api-server URL, checked: http(s) only. */
function apiUrl(raw: string): string {
  let u: URL
  try {
    u = new URL(raw)
  } catch {
    throw new UserError(`--api-server "${raw}" is not a URL`, {hint: 'e.g. http://127.0.0.1:8001 (kubectl proxy)'})
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UserError(`--api-server "${raw}" is not http or https`, {
      hint: 'e.g. http://127.0.0.1:8001 (kubectl proxy)',
    })
  return u.href
}
