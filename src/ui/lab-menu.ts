import chalk from 'chalk'
import {execa} from 'execa'
import {createInterface} from 'node:readline'
import {readStepText, type Lab, type LabStep} from '../labs/catalogue.js'
import {menuLoop, type MenuAction, type MenuView} from '../labs/menu-loop.js'
import type {LabSession} from '../labs/session.js'
import {inWorkspace} from '../labs/workspace.js'
import {renderSolutionDiffs} from './solution-diff.js'
import {renderMarkdown} from './markdown.js'
import {renderCheck, renderSummary} from './check-report.js'
import {runWithCheckList} from './check-list.js'
import {watchSession} from './lab-watch.js'
import {errorText, wrapWords} from './render.js'
import {ask, menu} from './prompts.js'
import {terminalWidth} from './wrap.js'

// The interactive lab's view (a terminal on both ends): the step's text, the menu of actions, their
// output. labs/menu-loop.ts decides what each action does.

/** The step's text names ~/ebpfcni-lab; the workspace in use is named instead (inWorkspace). */
export function showStep(lab: Lab, step: LabStep, workspace: string, log: (s: string) => void): void {
  const i = lab.steps.indexOf(step) + 1
  const level = step.level === 'stretch' ? 'stretch: optional, for when you are ahead' : 'core'
  log(chalk.dim(wrapWords(`── step ${i} of ${lab.steps.length} · ${level} · ~${step.minutes} min ──`, terminalWidth())))
  log(renderMarkdown(inWorkspace(readStepText(lab, step), workspace)))
}

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

/** The menu on a terminal: prompts with @inquirer, output through `log`. */
export function terminalMenuView(session: LabSession, log: (s: string) => void): MenuView {
  const {lab} = session
  // The cursor stays on the last action (check, edit, check… is the loop), not back on the first.
  let last: MenuAction | undefined
  return {
    choose: async (step, {passed, next, file, suggested}) => {
      const offered = next && passed
      // Esc leaves the lab as "quit" does: back to the list of labs, or out.
      const action = await menu<MenuAction>({
        message: `${step.title}${step.level === 'stretch' ? ' (optional)' : ''}${passed ? ' (passed)' : ''}`,
        default: suggested ?? (last === 'next' && !offered ? undefined : last),
        choices: [
          {name: `Open ${file} in ${editorName()}`, value: 'edit'},
          {name: "Run this step's checks", value: 'check'},
          {name: 'Watch: re-run the checks each time you save (press Enter to stop)', value: 'watch'},
          {name: 'Show the next hint', value: 'hint'},
          {name: 'Show the diff to the solution', value: 'diff'},
          {name: 'Apply the solution for this step (your file is backed up)', value: 'apply'},
          ...(next && passed ? [{name: `Continue to ${next.title}`, value: 'next' as const}] : []),
          {name: 'Show the step text again', value: 'text'},
          {name: 'Back to the list of labs / quit (progress is saved)', value: 'quit'},
        ],
      })
      last = action
      if (action === undefined) log(chalk.dim(`Left ${step.title} (Esc); your progress is saved.`))
      return action ?? 'quit'
    },
    showStep: (step) => showStep(lab, step, session.workspace, log),
    showHint: (n, total, text) =>
      log(
        total && text
          ? wrapWords(`${chalk.yellow(`hint ${n}/${total}:`)} ${text}`, terminalWidth())
          : 'No hints for this step.',
      ),
    openEditor: async (path) => {
      // The learner is at the keyboard: a long limit, but still one.
      const [prog, args] = editorCommand()
      const r = await execa(prog, [...args, path], {stdio: 'inherit', reject: false, timeout: 4 * 3600_000})
      if (r.failed)
        log(
          chalk.red(
            `error: the editor "${editorName()}" ${r.exitCode === undefined ? `could not start (${r.code ?? r.shortMessage})` : `exited ${r.exitCode}`}`,
          ) + `\n${chalk.yellow('hint:')} set VISUAL or EDITOR to an editor on this machine, e.g. export EDITOR=nano`,
        )
    },
    showDiff: (diffs) => log(renderSolutionDiffs(diffs)),
    confirmApply: (files) => ask(`Replace ${files.join(', ')} with the solution? (yours is backed up)`, true),
    showApplied: (outcome) => {
      const width = terminalWidth()
      if (outcome === 'already') log('Already matches the solution.')
      else {
        log(chalk.green(wrapWords(`Applied the solution. Backups: ${outcome.backups.join(', ') || 'none'}`, width)))
        if (outcome.loaded) log(chalk.green(wrapWords(outcome.loaded, width)))
      }
      log(chalk.dim("Next: run this step's checks (selected below, press Enter)."))
    },
    showCheckRun: async (step, checks, run) => {
      const report = await runWithCheckList(checks, run)
      // A plugin that does not parse is reported before any of the step's checks run.
      for (const r of report.checks.filter((c) => !step.checks.includes(c.id))) log(renderCheck(r))
      log(renderSummary(report, step.checks))
    },
    watch: async (step) => {
      const rl = createInterface({input: process.stdin})
      const until = new Promise<void>((resolve) => rl.once('line', () => resolve()))
      await watchSession({session, step, until, log, howToStop: 'press Enter'})
      rl.close()
    },
    showError: (err) => log(errorText(err)),
  }
}

/** The interactive lab from `first`: the menu until the learner quits. */
export function labMenu(session: LabSession, first: LabStep, log: (s: string) => void): Promise<void> {
  return menuLoop(session, first, terminalMenuView(session, log))
}
