import chalk from 'chalk'
import {BaseCommand} from '../ui/base-command.js'
import {workspaceStatus} from '../labs/session.js'
import {mark} from '../ui/render.js'
import {workspaceFlag} from '../ui/common-flags.js'
import {workspaceDir} from '../host/paths.js'

const duration = (ms: number): string =>
  ms < 60_000
    ? `${Math.round(ms / 1000)} s`
    : ms < 3_600_000
      ? `${Math.round(ms / 60_000)} min`
      : `${(ms / 3_600_000).toFixed(1)} h`

export default class Status extends BaseCommand {
  static summary = 'Show progress across the labs: steps done, when, checks passed.'
  static description =
    'Progress belongs to your workspace (--workspace names another). Per lab and step (with the step ids other commands take): done or not, when its checks first passed, how long it took (from when the step was first shown, by `lab N`, a hint or a check of that step alone, to that first pass; not shown when a whole-lab check passed it before), check runs and hints seen. Optional (stretch) steps are marked.'
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']
  static enableJsonFlag = true
  static flags = {workspace: workspaceFlag}
  // It only reads the progress file.
  protected requiresRoot = false

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Status)
    const workspace = workspaceDir(flags.workspace)
    const labs = workspaceStatus(workspace)
    for (const l of labs) {
      const head = `Lab ${l.lab} — ${l.title}`
      const core = l.steps.filter((s) => s.level === 'core').reduce((n, s) => n + s.minutes, 0)
      this.log(`${chalk.bold(head)}  ${chalk.dim(`${l.stepsDone}/${l.stepsTotal} steps; core path ~${core} min`)}`)
      for (const s of l.steps) {
        const at = (iso: string): string => iso.replace('T', ' ').slice(0, 16)
        const when =
          s.done && s.firstPassedAt
            ? chalk.dim(
                ` done ${at(s.firstPassedAt)}${s.tookMs !== null ? `, took ${duration(s.tookMs)}` : ''}, ${s.attempts} check run(s), ${s.hintsSeen} hint(s)`,
              )
            : s.attempts
              ? chalk.dim(
                  ` ${s.checksPassed}/${s.checksTotal} checks, ${s.attempts} attempt(s)${s.firstPassedAt ? `; passed ${at(s.firstPassedAt)}, fails again now` : ''}`,
                )
              : ''
        this.log(
          `  ${mark(s.done ? 'pass' : 'skip')} ${s.title} ${chalk.dim(`[${s.id}]`)}${s.level === 'stretch' ? chalk.yellow(' (stretch: optional)') : ''}${when}`,
        )
      }
    }
    if (labs.length === 0) this.log('No labs found (is the package complete?).')
    return {labs}
  }
}
