import {Args, Flags} from '@oclif/core'
import {select} from '@inquirer/prompts'
import chalk from 'chalk'
import {BaseCommand, interactive} from '../ui/base-command.js'
import {getLab, getStep, loadLabs, readStepText, type Lab, type LabStep} from '../labs/catalogue.js'
import {ensureWorkspace, solutionFiles, applySolution} from '../labs/workspace.js'
import {ProgressStore} from '../host/progress.js'
import {workspaceDir} from '../host/paths.js'
import {runChecks} from '../labs/checker.js'
import {renderCheck, renderSummary} from '../ui/check-report.js'
import {renderMarkdown} from '../ui/markdown.js'
import {errorMessage} from '../host/errors.js'

export default class LabCommand extends BaseCommand {
  static summary = 'Start or continue a lab: the step text, then run checks, hints and solutions from a menu.'
  static description = `On a terminal this is interactive. Without one (CI, a pipe) it prints the current step and
the commands to run, and exits 0 without waiting for input.`

  static examples = ['<%= config.bin %> lab', '<%= config.bin %> lab 1', '<%= config.bin %> lab 1 --step add']
  static args = {lab: Args.integer({description: 'Lab number (menu of labs when omitted).', min: 1, max: 4})}
  static flags = {
    step: Flags.string({char: 's', description: 'Go to this step (id or number).'}),
    workspace: Flags.string({char: 'w', description: 'Your workspace directory.', env: 'EBPFCNI_WORKSPACE'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(LabCommand)
    const progress = new ProgressStore()
    let labId = args.lab
    if (labId === undefined) {
      const labs = loadLabs()
      if (!interactive()) {
        for (const l of labs) this.log(`lab ${l.id}: ${l.title} — ${l.goal}`)
        this.log('\nStart one with: ebpfcni lab 1')
        return
      }
      labId = await select({
        message: 'Which lab?',
        choices: labs.map((l) => {
          const done = l.steps.filter((s) => progress.lab(l.id)?.steps[s.id]?.done).length
          return {name: `${l.id}. ${l.title}  ${chalk.dim(`${done}/${l.steps.length} steps`)}`, value: l.id}
        }),
      })
    }
    const lab = getLab(labId)
    const dir = workspaceDir(flags.workspace)
    const created = ensureWorkspace(lab, dir)
    const state = progress.lab(lab.id)
    let step = getStep(lab, flags.step) ?? lab.steps.find((s) => s.id === state?.currentStep) ?? lab.steps.find((s) => !state?.steps[s.id]?.done) ?? lab.steps[0]
    progress.setCurrentStep(lab.id, step.id)

    this.log(chalk.bold(`Lab ${lab.id} — ${lab.title}`))
    this.log(chalk.dim(lab.goal))
    if (created.length) this.log(chalk.green(`Created your workspace files: ${created.join(', ')}`))
    this.log(chalk.dim(`Workspace: ${dir}\n`))
    this.showStep(lab, step)
    if (!interactive()) {
      this.log(chalk.bold('\nCommands for this step:'))
      this.log(`  $EDITOR ${dir}/ebpfcni\n  ebpfcni check ${lab.id} --step ${step.id}\n  ebpfcni hint ${lab.id} --step ${step.id}\n  ebpfcni solution ${lab.id} --step ${step.id}`)
      return
    }
    for (;;) {
      const passed = progress.lab(lab.id)?.steps[step.id]?.done
      const next = lab.steps[lab.steps.indexOf(step) + 1]
      const action = await select({
        message: `${step.title}${passed ? chalk.green(' ✔') : ''}`,
        choices: [
          {name: 'Run this step\'s checks', value: 'check'},
          {name: 'Show the next hint', value: 'hint'},
          {name: 'Show the diff to the solution', value: 'diff'},
          {name: 'Apply the solution for this step (your file is backed up)', value: 'apply'},
          ...(next ? [{name: `Continue to ${next.title}${passed ? '' : chalk.dim(' (checks not passed yet)')}`, value: 'next'}] : []),
          {name: 'Show the step text again', value: 'text'},
          {name: 'Quit (progress is saved)', value: 'quit'},
        ],
      })
      try {
        if (action === 'quit') return
        if (action === 'text') this.showStep(lab, step)
        if (action === 'next' && next) {
          step = next
          progress.setCurrentStep(lab.id, step.id)
          this.showStep(lab, step)
        }
        if (action === 'hint') {
          const n = progress.nextHint(lab.id, step.id, step.hints.length)
          this.log(step.hints.length ? `${chalk.yellow(`hint ${n}/${step.hints.length}:`)} ${step.hints[n - 1]}` : 'No hints for this step.')
        }
        if (action === 'diff' || action === 'apply') {
          const files = solutionFiles(lab, step, dir)
          if (action === 'apply') {
            const backups = applySolution(files)
            this.log(files.some((f) => f.differs) ? chalk.green(`Applied the solution. Backups: ${backups.join(', ') || 'none'}`) : 'Already matches the solution.')
          } else {
            await this.config.runCommand('solution', [String(lab.id), '--step', step.id, '--workspace', dir])
          }
        }
        if (action === 'check') {
          this.log(chalk.dim(`Running ${step.checks.length} checks for ${step.title}…`))
          const report = await runChecks({lab: lab.id, step: step.id, workspace: dir, onCheck: (_id, title, r) => this.log(r ? renderCheck(r) : chalk.dim(`… ${title}`))})
          this.log(renderSummary(report))
        }
      } catch (err) {
        this.log(chalk.red(`error: ${errorMessage(err)}`))
      }
    }
  }

  private showStep(lab: Lab, step: LabStep): void {
    const i = lab.steps.indexOf(step) + 1
    this.log(chalk.dim(`── step ${i} of ${lab.steps.length} ──`))
    this.log(renderMarkdown(readStepText(lab, step)))
  }
}
