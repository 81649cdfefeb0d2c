import {Args} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PodService} from '../../pods/service.js'
import {NetnsRuntime} from '../../pods/netns-runtime.js'
import {UserError} from '../../host/errors.js'

export default class PodCheck extends BaseCommand {
  static summary = 'Run CNI CHECK on a pod, with the result its ADD returned (cnitool check).'
  static description =
    "The runtime's CHECK: the plugin gets CNI_COMMAND=CHECK, the pod's CNI_* variables, and the config with prevResult set to the cached ADD result; it must verify the pod is still as the result says and exit 0, or print an error. Pods of the netns runtime (podman and containerd never call CHECK)."
  static examples = ['<%= config.bin %> pod check httpbin', '<%= config.bin %> pod check httpbin --json']
  static enableJsonFlag = true
  static args = {name: Args.string({ignoreStdin: true, description: 'Pod name.', required: true})}

  async run(): Promise<unknown> {
    const {args} = await this.parse(PodCheck)
    const pod = new PodService().get(args.name)
    if (pod.runtime !== 'netns')
      throw new UserError(`pod ${pod.name} runs on ${pod.runtime}, which never calls CHECK`, {
        hint: 'make a netns pod to try CHECK: ebpfcni pod add NAME',
      })
    const out = await new NetnsRuntime().check(pod)
    const error = out.calls.at(-1)?.error
    if (out.ok) this.log(`${chalk.green('✔')} CHECK of pod ${pod.name}: the plugin says it is as its result describes`)
    else {
      this.log(`${chalk.red('✘')} CHECK of pod ${pod.name}: ${out.problem}`)
      process.exitCode = 1
    }
    return {pod: pod.name, ok: out.ok, problem: out.problem ?? null, error: error ?? null}
  }
}
