import select from '@inquirer/select'
import confirm from '@inquirer/confirm'
import chalk from 'chalk'
import {execa} from 'execa'
import {createInterface} from 'node:readline'
import {join} from 'node:path'
import type {Lab, LabStep} from '../labs/catalogue.js'
import {readStepText} from '../labs/catalogue.js'
import {solutionFiles} from '../labs/workspace.js'
import {runChecks} from '../labs/checker.js'
import {labModule} from '../labs/registry.js'
import {applySolutionAndLoad} from '../labs/deploy.js'
import {ProgressStore} from '../host/progress.js'
import {LabSession} from '../labs/session.js'
import {errorMessage, UserError} from '../host/errors.js'
import {renderMarkdown} from './markdown.js'
import {renderCheck, renderSummary} from './check-report.js'
import {runWithCheckList} from './check-list.js'
import {watchSession} from './lab-watch.js'
import {hintLine} from './next-steps.js'

// The interactive lab (a terminal on both ends): the step's text, then a menu of actions.

export function showStep(lab: Lab, step: LabStep, log: (s: string) => void): void {
  const i = lab.steps.indexOf(step) + 1
  const level = step.level === 'stretch' ? 'stretch: optional, for when you are ahead' : 'core'
  log(chalk.dim(`── step ${i} of ${lab.steps.length} · ${level} · ~${step.minutes} min ──`))
  log(renderMarkdown(readStepText(lab, step)))
}

/** The file a step asks the learner to edit (its solution's first file). */
export const stepFile = (step: LabStep): string => Object.keys(step.solution)[0] ?? 'ebpfcni'
/**
 * The learner's editor as [program, args]: VISUAL wins over EDITOR (as git and crontab do), and
 * either may carry arguments ("code --wait"), split as a shell splits words (quotes kept together).
 */
export function editorCommand(env: NodeJS.ProcessEnv = process.env): [string, string[]] {
  const text = (env.VISUAL || env.EDITOR || 'vi').trim()
  const words = [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3])
  return [words[0], words.slice(1)]
}
const editorName = (): string => editorCommand().join(' ').trim()

export async function labMenu(
  lab: Lab,
  first: LabStep,
  dir: string,
  log: (s: string) => void,
  showDiff: (step: LabStep) => Promise<void>,
): Promise<void> {
  const progress = new ProgressStore()
  const session = new LabSession(lab, progress)
  let step = first
  for (;;) {
    const passed = session.isDone(step)
    const next = session.nextStep(step)
    const file = stepFile(step)
    const action = await select({
      message: `${step.title}${step.level === 'stretch' ? ' (optional)' : ''}${passed ? ' (passed)' : ''}`,
      choices: [
        {name: `Open ${file} in ${editorName()}`, value: 'edit'},
        {name: "Run this step's checks", value: 'check'},
        {name: 'Watch: re-run the checks each time you save (press Enter to stop)', value: 'watch'},
        {name: 'Show the next hint', value: 'hint'},
        {name: 'Show the diff to the solution', value: 'diff'},
        {name: 'Apply the solution for this step (your file is backed up)', value: 'apply'},
        ...(next && passed ? [{name: `Continue to ${next.title}`, value: 'next'}] : []),
        {name: 'Show the step text again', value: 'text'},
        {name: 'Back to the list of labs / quit (progress is saved)', value: 'quit'},
      ],
    })
    try {
      if (action === 'quit') return
      if (action === 'text') showStep(lab, step, log)
      if (action === 'next' && next) {
        step = session.moveTo(next)
        showStep(lab, step, log)
      }
      if (action === 'edit') {
        // The learner is at the keyboard: a long limit, but still one.
        const [prog, args] = editorCommand()
        const r = await execa(prog, [...args, join(dir, file)], {
          stdio: 'inherit',
          reject: false,
          timeout: 4 * 3600_000,
        })
        if (r.failed)
          log(
            chalk.red(
              `error: the editor "${editorName()}" ${r.exitCode === undefined ? `could not start (${r.code ?? r.shortMessage})` : `exited ${r.exitCode}`}`,
            ) + `\n${chalk.yellow('hint:')} set VISUAL or EDITOR to an editor on this machine, e.g. export EDITOR=nano`,
          )
      }
      if (action === 'hint') {
        const n = session.nextHints(step).length
        log(
          step.hints.length
            ? `${chalk.yellow(`hint ${n}/${step.hints.length}:`)} ${step.hints[n - 1]}`
            : 'No hints for this step.',
        )
      }
      if (action === 'diff') await showDiff(step)
      if (action === 'apply') {
        const files = solutionFiles(lab, step, dir)
        if (!files.some((f) => f.differs)) log('Already matches the solution.')
        else if (
          await confirm({
            message: `Replace ${files
              .filter((f) => f.differs)
              .map((f) => f.name)
              .join(', ')} with the solution? (yours is backed up)`,
            default: true,
          })
        ) {
          const {backups, loaded} = await applySolutionAndLoad(files, dir, {lab: lab.id})
          log(chalk.green(`Applied the solution. Backups: ${backups.join(', ') || 'none'}`))
          if (loaded) log(chalk.green(loaded))
        }
      }
      if (action === 'check') {
        const defs = labModule(lab.id)?.checks ?? []
        const checks = step.checks.map((id) => ({id, title: defs.find((c: {id: string}) => c.id === id)?.title ?? id}))
        const report = await runWithCheckList(checks, (onCheck) =>
          runChecks({lab: lab.id, step: step.id, workspace: dir, progress, onCheck, untilFirstFailure: true}),
        )
        // A plugin that does not parse is reported before any of the step's checks run.
        for (const r of report.checks.filter((c) => !step.checks.includes(c.id))) log(renderCheck(r))
        log(renderSummary(report))
      }
      if (action === 'watch') {
        const rl = createInterface({input: process.stdin})
        const until = new Promise<void>((resolve) => rl.once('line', () => resolve()))
        await watchSession({lab, step, workspace: dir, until, log, progress, howToStop: 'press Enter'})
        rl.close()
        // Watch mode may have moved on to the next step.
        step = session.currentStep()
      }
    } catch (err) {
      log(chalk.red(`error: ${errorMessage(err)}`))
      const hint = err instanceof UserError ? hintLine(err) : undefined
      if (hint) log(`${chalk.yellow('hint:')} ${hint}`)
    }
  }
}
