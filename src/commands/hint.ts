import chalk from 'chalk'
import {BaseCommand} from '../ui/base-command.js'
import {wrapWords} from '../ui/render.js'
import {getLab} from '../labs/catalogue.js'
import {LabSession} from '../labs/session.js'
import {labArg, stepFlag, workspaceFlag} from '../ui/common-flags.js'
import {workspaceDir} from '../host/paths.js'
import {requireWorkspace} from '../labs/workspace.js'

export default class Hint extends BaseCommand {
  static summary = 'Show the next hint for a step, from a nudge to nearly the answer.'
  static description =
    "Each call shows one more hint for the step you are on (the one `lab` shows: where you were, unless it is done; else the first step not done), or the step --step names, with the ones before it. Hints seen are recorded in your workspace's progress (--workspace names another workspace; it must exist: ebpfcni lab N makes it)."
  static examples = [
    '<%= config.bin %> hint 1',
    '<%= config.bin %> hint 1 --step add',
    '<%= config.bin %> hint 1 --json',
  ]
  static enableJsonFlag = true
  static args = {lab: labArg({required: true})}
  static flags = {step: stepFlag, workspace: workspaceFlag}
  protected rootReason = 'it records the hints you have seen in /var/lib/ebpfcni/progress/'

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Hint)
    const lab = getLab(args.lab)
    const dir = workspaceDir(flags.workspace)
    requireWorkspace(dir, args.lab, flags.workspace !== undefined)
    const session = new LabSession(lab, dir)
    const step = session.currentStep(flags.step)
    if (step.hints.length === 0) {
      this.log(`No hints for ${step.title}.`)
      return {lab: args.lab, step: step.id, shown: 0, total: 0, hints: []}
    }
    const shown = session.nextHints(step)
    const n = shown.length
    for (let i = 0; i < n; i++)
      this.log(
        `${chalk.yellow(`hint ${i + 1}/${step.hints.length}`)} ${chalk.dim(`(${step.title})`)}\n  ${wrapWords(shown[i], (process.stdout.columns || 100) - 2)}\n`,
      )
    if (n === step.hints.length)
      this.log(chalk.dim(`That was the last hint. The answer: ebpfcni solution ${args.lab} --step ${step.id}`))
    return {lab: args.lab, step: step.id, shown: n, total: step.hints.length, hints: shown}
  }
}
