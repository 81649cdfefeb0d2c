import {Flags} from '#oclif'
import confirm from '@inquirer/confirm'
import chalk from 'chalk'
import {BaseCommand, interactive} from '../ui/base-command.js'
import {getLab, getStep} from '../labs/catalogue.js'
import {LabSession} from '../labs/session.js'
import {describeChange} from '../labs/workspace.js'
import {workspaceDir} from '../host/paths.js'
import {renderSolutionDiffs} from '../ui/solution-diff.js'
import {UserError} from '../host/errors.js'
import {labArg, stepFlag, workspaceFlag, yesFlag} from '../ui/common-flags.js'

export default class Solution extends BaseCommand {
  static summary = 'Diff your files against the reference solution, or apply it.'
  static description =
    "Without --apply: a diff from your files to the solution (for the step, or the whole lab). --apply fast-forwards a late attendee: it writes the reference files into the workspace (yours are backed up) and, for a program, builds and loads it. Each lab's starter already includes the earlier labs' solutions, so ebpfcni lab N works for someone who skipped labs 1..N-1."
  static enableJsonFlag = true
  static examples = [
    '<%= config.bin %> solution 1',
    '<%= config.bin %> solution 1 --step add',
    '<%= config.bin %> solution 1 --apply --yes',
  ]
  static args = {lab: labArg({required: true})}
  static flags = {
    step: stepFlag,
    apply: Flags.boolean({description: 'Write the solution into your workspace (backing up your files).'}),
    yes: yesFlag,
    workspace: workspaceFlag,
  }

  protected rootReason = "with --apply it loads and pins your program; it also writes the workspace as the labs' owner"

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Solution)
    const session = new LabSession(getLab(args.lab), workspaceDir(flags.workspace))
    const step = getStep(session.lab, flags.step)
    for (const c of session.openWorkspace()) this.logToStderr(describeChange(c, args.lab))
    const asked = {lab: args.lab, step: step?.id ?? 'all'}
    if (!flags.apply) {
      const diffs = await session.solutionDiffs(step)
      this.log(renderSolutionDiffs(diffs))
      this.log(
        chalk.dim(`Apply it with: ebpfcni solution ${args.lab}${flags.step ? ` --step ${flags.step}` : ''} --apply`),
      )
      return {...asked, applied: false, files: diffs}
    }
    const changing = session.solutionFiles(step).filter((f) => f.differs)
    if (changing.length === 0) {
      this.log('Your workspace already matches the solution.')
      return {...asked, applied: false, written: [], backups: []}
    }
    if (!flags.yes && !(await this.confirmApply(changing.map((f) => f.name))))
      return {...asked, applied: false, written: [], backups: []}
    const {backups, loaded} = await session.applySolution(changing)
    for (const f of changing) this.log(`${chalk.green('✔')} wrote ${f.workspacePath}`)
    for (const b of backups) this.log(chalk.dim(`  your previous version: ${b}`))
    if (loaded) this.log(`${chalk.green('✔')} ${loaded}`)
    return {...asked, applied: true, written: changing.map((f) => f.workspacePath), backups, loaded: loaded ?? null}
  }

  /** On a terminal, the learner says yes; without one, --yes is required. */
  private async confirmApply(names: string[]): Promise<boolean> {
    if (!interactive())
      throw new UserError('applying the solution overwrites your files (backed up); without a terminal pass --yes')
    return confirm({message: `Replace ${names.join(', ')} with the solution (yours are backed up)?`, default: false})
  }
}
