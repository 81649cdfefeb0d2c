import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand} from '../ui/base-command.js'
import {getLab, getStep} from '../labs/catalogue.js'
import {ProgressStore} from '../host/progress.js'

export default class Hint extends BaseCommand {
  static summary = 'Show the next hint for a step, from a nudge to nearly the answer.'
  static examples = ['<%= config.bin %> hint 1', '<%= config.bin %> hint 1 --step add']
  static args = {lab: Args.integer({description: 'Lab number.', required: true, min: 1, max: 4})}
  static flags = {step: Flags.string({char: 's', description: 'Step id or number (default: the first step not done).'})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Hint)
    const lab = getLab(args.lab)
    const progress = new ProgressStore()
    const done = progress.lab(args.lab)?.steps ?? {}
    const step = getStep(lab, flags.step) ?? lab.steps.find((s) => !done[s.id]?.done) ?? lab.steps.at(-1)!
    if (step.hints.length === 0) return this.log(`No hints for ${step.title}.`)
    const n = progress.nextHint(args.lab, step.id, step.hints.length)
    for (let i = 0; i < n; i++) this.log(`${chalk.yellow(`hint ${i + 1}/${step.hints.length}`)} ${chalk.dim(`(${step.title})`)}\n  ${step.hints[i]}\n`)
    if (n === step.hints.length) this.log(chalk.dim(`That was the last hint. The answer: ebpfcni solution ${args.lab} --step ${step.id}`))
  }
}
