import {Args} from '#oclif'
import {execa} from 'execa'
import {BaseCommand} from '../../ui/base-command.js'
import {PodService, runtimeFor} from '../../pods/service.js'
import {UserError} from '../../host/errors.js'

export default class PodExec extends BaseCommand {
  static summary = "Run a command inside a pod's network namespace."
  static usage = 'pod exec NAME -- CMD...'
  static description =
    "Everything after -- is the command, run with nsenter in the pod's network namespace (your own terminal, no time limit)."
  static examples = [
    '<%= config.bin %> pod exec sleep -- busybox wget -qO- http://10.10.0.2/get',
    '<%= config.bin %> pod exec httpbin -- ip addr',
  ]
  static strict = false
  static args = {name: Args.string({ignoreStdin: true, description: 'Pod name.', required: true})}

  async run(): Promise<void> {
    const {args, argv} = await this.parse(PodExec)
    const cmd = (argv as string[]).slice(1)
    if (cmd.length === 0) throw new UserError('give a command after the pod name: ebpfcni pod exec NAME -- CMD...')
    const pod = new PodService().get(args.name)
    const [file, fargs] = runtimeFor(pod.runtime).execArgs(pod, cmd)
    // Interactive by design (the learner's own command): inherit the terminal, no output cap.
    const r = await execa(file, fargs, {stdio: 'inherit', reject: false})
    process.exitCode = r.exitCode ?? 1
  }
}
