import {Flags} from '@oclif/core'
import chalk from 'chalk'
import {join} from 'node:path'
import {BaseCommand, untilStopped} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {PolicyController} from '../../policy/controller.js'
import {CriPodSource} from '../../policy/pods.js'
import {startControllerProcess, stopControllerProcesses} from '../../policy/background.js'
import {pinDirFlag} from '../../ui/policy-flags.js'
import {packageRoot} from '../../host/paths.js'
import {UserError} from '../../host/errors.js'
import {signalReady} from '../../host/background.js'

export default class PolicyWatch extends BaseCommand {
  static summary = 'The controller: keep the maps in line with policies and pods as they change.'
  static description = `Event-driven: it reacts to pod records changing (ebpfcni pod add/del), to policy changes (policy apply/delete/deny/allow) and to edits of the files policies were applied from. Each change is applied as a difference (allows before isolation, removals last), never a wipe and rewrite.`
  static examples = [
    '<%= config.bin %> policy watch',
    '<%= config.bin %> policy watch --pods cri',
    '<%= config.bin %> policy watch --background',
    '<%= config.bin %> policy watch --stop',
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
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(PolicyWatch)
    if (flags.stop) {
      const n = await stopControllerProcesses()
      return this.log(n ? `stopped ${n} controller(s)` : 'no background controller was running')
    }
    let pods: CriPodSource | undefined
    if (flags.pods === 'cri') {
      pods = new CriPodSource()
      await pods.refresh().catch((err: Error) => {
        throw new UserError(`cannot list pods from the CRI runtime: ${err.message}`, {
          hint: "start pods with ebpfcni pod add NAME --runtime cri first (that starts ebpfcni's containerd)",
        })
      })
    }
    const svc = new PolicyService({pinDir: flags['pin-dir'], pods})
    svc.mode() // a clear error now if lab 4's maps are not pinned
    if (flags.background) {
      const {pid, log} = await startControllerProcess(join(packageRoot(), 'bin', 'run.js'), [
        '--pin-dir',
        flags['pin-dir'],
        '--pods',
        flags.pods,
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
    if (flags.json)
      this.log(JSON.stringify({time: new Date().toISOString(), watching: true, polling: controller.polling ?? false}))
    else
      this.log(
        `watching pods and policies${controller.polling ? ` (polling: ${controller.polling})` : ''}; Ctrl-C to stop`,
      )
    signalReady()
    await untilStopped(flags.for)
    controller.stop()
  }
}
