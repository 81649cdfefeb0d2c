import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand, interactive, untilStopped} from '../ui/base-command.js'
import {getLab, loadLabs, type Lab, type LabStep} from '../labs/catalogue.js'
import {LabSession} from '../labs/session.js'
import {describeChange} from '../labs/workspace.js'
import {runAuto} from '../labs/auto.js'
import {ProgressStore} from '../host/progress.js'
import {workspaceDir} from '../host/paths.js'
import {UserError} from '../host/errors.js'
import {labMenu, showStep} from '../ui/lab-menu.js'
import {asksNewCode, stepFile} from '../labs/menu-loop.js'
import {watchSession} from '../ui/lab-watch.js'
import {renderAutoStep, renderAutoSummary} from '../ui/auto-report.js'
import {json, wrapWords} from '../ui/render.js'
import {menu} from '../ui/prompts.js'
import {terminalWidth} from '../ui/wrap.js'
import {stepFlag, workspaceFlag, yesFlag} from '../ui/common-flags.js'

export default class LabCommand extends BaseCommand {
  static summary = 'Start or continue a lab: step text, checks, hints, solutions, watch mode.'
  static description =
    "On a terminal this is interactive: a menu for the current step. Without one (CI, a pipe) it prints the first unfinished step and the commands to run (once every step passes, the next lab instead), and exits 0 without waiting for input. --watch re-runs the current step's checks each time you save a workspace file (polling on VM synced folders), cheapest first, stopping at the first failure. --auto is the instructor's smoke test: each step's solution applied and checked in a throwaway workspace, then the labs are reset (lab all --auto runs every lab). The workspace is one folder for all labs. Opening a lab whose starter brings new scaffolding for a file you worked on in another lab (ebpfcni.bpf.c from lab 2 to 3) sets yours aside as NAME.labK and gives you the new starter; coming back swaps them again. Files a lab continues unchanged (your plugin in labs 2-4) carry over. --fresh starts the lab over: starter files and progress. Progress belongs to the workspace: another --workspace starts at step 1."

  static examples = [
    '<%= config.bin %> lab',
    '<%= config.bin %> lab 1',
    '<%= config.bin %> lab 2 --step attach',
    '<%= config.bin %> lab 1 --watch',
    '<%= config.bin %> lab 3 --fresh',
    '<%= config.bin %> lab all --auto',
  ]

  static args = {
    lab: Args.string({
      ignoreStdin: true,
      description: 'Lab number (omit it for the list of labs), or "all" with --auto.',
    }),
  }
  static flags = {
    step: stepFlag,
    workspace: workspaceFlag,
    watch: Flags.boolean({
      description: "Re-run the current step's checks whenever a workspace file is saved.",
      exclusive: ['auto'],
    }),
    poll: Flags.boolean({
      description: 'With --watch: poll for changes instead of waiting for file events.',
      dependsOn: ['watch'],
    }),
    for: Flags.integer({description: 'With --watch: stop after this many seconds.', min: 1, dependsOn: ['watch']}),
    auto: Flags.boolean({description: "Apply each step's solution and run its checks (instructor smoke test)."}),
    keep: Flags.boolean({
      description: 'With --auto: leave the last lab installed instead of resetting.',
      dependsOn: ['auto'],
    }),
    json: Flags.boolean({description: 'With --auto: print the summary as JSON.', dependsOn: ['auto']}),
    fresh: Flags.boolean({
      description:
        'Start the lab over: its starter files (yours are kept as NAME.bak-TIME) and its progress (steps pending, hints unseen).',
      exclusive: ['auto'],
    }),
    yes: yesFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(LabCommand)
    const labs = loadLabs()
    const which = args.lab === undefined ? undefined : args.lab === 'all' ? 'all' : Number(args.lab)
    if (which !== undefined && which !== 'all' && !(Number.isInteger(which) && labs.some((l) => l.id === which))) {
      throw new UserError(`there is no lab "${args.lab}"`, {
        hint: `labs: ${labs.map((l) => l.id).join(', ')}, or "all" with --auto`,
      })
    }
    if (flags.auto) return this.auto(which === 'all' || which === undefined ? labs.map((l) => l.id) : [which], flags)
    if (which === 'all')
      throw new UserError('"all" goes with --auto', {
        hint: `ebpfcni lab all --auto, or start one lab: ebpfcni lab ${labs[0]?.id ?? 1}`,
      })

    const progress = ProgressStore.forWorkspace(workspaceDir(flags.workspace))
    if (which === undefined) {
      if (!interactive() || flags.yes) {
        for (const l of labs) this.log(`lab ${l.id}: ${l.title} — ${l.goal}`)
        this.log(`\nStart one with: ebpfcni lab ${labs[0]?.id ?? 1}`)
        return
      }
      // From the list of labs, leaving a lab comes back to the list.
      for (;;) {
        const picked = await this.pickLab(labs, progress)
        if (picked === undefined) return
        await this.openLab(picked, flags, progress)
      }
    }
    await this.openLab(which, flags, progress)
  }

  private async openLab(
    labId: number,
    flags: {
      step?: string
      workspace?: string
      watch?: boolean
      poll?: boolean
      for?: number
      yes?: boolean
      fresh?: boolean
    },
    progress: ProgressStore,
  ): Promise<void> {
    const lab = getLab(labId)
    const dir = workspaceDir(flags.workspace)
    // One session for this run: the workspace, the menu, watch mode and the checks all work through it.
    const session = new LabSession(lab, dir, progress)
    const changes = session.openWorkspace({fresh: flags.fresh})
    if (flags.fresh) session.startOver()
    const step = session.moveTo(session.currentStep(flags.step))

    this.log(chalk.bold(`Lab ${lab.id} — ${lab.title}`))
    this.log(chalk.dim(wrapWords(lab.goal, terminalWidth(), '')))
    if (changes.length)
      this.log(
        chalk.green(
          `Your workspace for lab ${lab.id}:\n${changes.map((c) => `  ${describeChange(c, lab.id)}`).join('\n')}`,
        ),
      )
    this.log(chalk.dim(`Workspace: ${dir}\n`))

    if (flags.watch) {
      const until = untilStopped(flags.for)
      return watchSession({session, step, poll: flags.poll, until, log: (l) => this.log(l)})
    }
    // A finished lab says so and where to go next, rather than showing its first step again.
    const finished = !flags.step && lab.steps.every((s) => session.isDone(s))
    if (finished) {
      const labs = loadLabs()
      const next = labs[labs.findIndex((l) => l.id === lab.id) + 1]
      this.log(chalk.green(`${chalk.bold('✔')} Lab ${lab.id} is done: all ${lab.steps.length} steps pass.`))
      this.log(
        next
          ? `Next: ${chalk.bold(`ebpfcni lab ${next.id}`)} (${next.title})`
          : 'That was the last lab: ebpfcni status shows them all.',
      )
      this.log(chalk.dim(`Go over a step again: ebpfcni lab ${lab.id} --step ID; start the lab over: --fresh`))
      if (!interactive() || flags.yes) return
      this.log('')
    }
    showStep(lab, step, dir, (l) => this.log(l))
    if (!interactive() || flags.yes) return this.log(stepCommands(lab, step, dir, session))
    await labMenu(session, step, (l) => this.log(l))
  }

  private async pickLab(labs: Lab[], progress: ProgressStore): Promise<number | undefined> {
    // Esc leaves, as Quit does.
    const choice = await menu<number>({
      message: 'Which lab?',
      choices: [
        ...labs.map((l) => {
          const done = l.steps.filter((s) => progress.lab(l.id)?.steps[s.id]?.done).length
          const steps = `${done}/${l.steps.length} steps`
          // One line each (a wrapped entry pushes the last ones off the menu): the title's part after
          // " — " goes when the terminal is too narrow for it.
          const full = `${l.id}. ${l.title}`
          const title = full.length + steps.length + 4 > terminalWidth() ? full.split(' — ')[0] : full
          return {name: `${title}  ${chalk.dim(steps)}`, value: l.id}
        }),
        {name: 'Quit', value: 0},
      ],
    })
    return choice === 0 ? undefined : choice
  }

  private async auto(ids: number[], flags: {workspace?: string; keep?: boolean; json?: boolean}): Promise<void> {
    if (!flags.json)
      this.log(
        chalk.bold(
          `Smoke test: labs ${ids.join(', ')}, each step's solution applied and checked${flags.keep ? '' : '; the labs are reset afterwards'}`,
        ),
      )
    const outcome = await runAuto({
      labs: ids,
      workspace: flags.workspace,
      keep: flags.keep,
      onStepStart: (lab, _id, title) => !flags.json && this.log(chalk.dim(`… lab ${lab}: ${title}`)),
      onStepDone: (r) => !flags.json && this.log(renderAutoStep(r)),
    })
    this.log(flags.json ? json(outcome) : renderAutoSummary(outcome))
    if (!outcome.passed) process.exitCode = 1
  }
}

/** The step's commands, printed without a terminal; a stretch step after the core ones names the way on. */
function stepCommands(lab: Lab, step: LabStep, dir: string, session: LabSession): string {
  const lines = [
    ...(asksNewCode(lab, step) ? [`$EDITOR ${dir}/${stepFile(step)}`] : []),
    `ebpfcni check ${lab.id} --step ${step.id}`,
    `ebpfcni lab ${lab.id} --watch`,
    `ebpfcni hint ${lab.id} --step ${step.id}`,
    `ebpfcni solution ${lab.id} --step ${step.id}`,
  ]
  const coreDone = lab.steps.filter((s) => s.level !== 'stretch').every((s) => session.isDone(s))
  const labs = loadLabs()
  const next = labs[labs.findIndex((l) => l.id === lab.id) + 1]
  if (step.level === 'stretch' && coreDone && next)
    lines.push(`ebpfcni lab ${next.id}   (this step is optional: the core steps pass, so you may move on)`)
  return `${chalk.bold('\nCommands for this step:')}\n${lines.map((l) => `  ${l}`).join('\n')}`
}
