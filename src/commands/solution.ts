import {Flags} from '@oclif/core'
import confirm from '@inquirer/confirm'
import chalk from 'chalk'
import {BaseCommand, interactive} from '../ui/base-command.js'
import {getLab, getStep} from '../labs/catalogue.js'
import {describeChange, ensureWorkspace, solutionFiles} from '../labs/workspace.js'
import {workspaceDir} from '../host/paths.js'
import {solutionDiffs} from '../labs/solution-diff.js'
import {renderSolutionDiffs} from '../ui/solution-diff.js'
import {UserError} from '../host/errors.js'
import {applySolutionAndLoad} from '../labs/deploy.js'
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
    const lab = getLab(args.lab)
    const step = getStep(lab, flags.step)
    const dir = workspaceDir(flags.workspace)
    for (const c of ensureWorkspace(lab, dir)) this.logToStderr(describeChange(c, lab.id))
    const files = solutionFiles(lab, step, dir)
    if (!flags.apply) {
      const diffs = await solutionDiffs(files)
      this.log(renderSolutionDiffs(diffs))
      this.log(
        chalk.dim(`Apply it with: ebpfcni solution ${args.lab}${flags.step ? ` --step ${flags.step}` : ''} --apply`),
      )
      return {lab: lab.id, step: step?.id ?? 'all', applied: false, files: diffs}
    }
    const changing = files.filter((f) => f.differs)
    if (changing.length === 0) {
      this.log('Your workspace already matches the solution.')
      return {lab: lab.id, step: step?.id ?? 'all', applied: false, written: [], backups: []}
    }
    if (!flags.yes) {
      if (!interactive())
        throw new UserError('applying the solution overwrites your files (backed up); without a terminal pass --yes')
      if (
        !(await confirm({
          message: `Replace ${changing.map((f) => f.name).join(', ')} with the solution (yours are backed up)?`,
          default: false,
        }))
      ) {
        return {lab: lab.id, step: step?.id ?? 'all', applied: false, written: [], backups: []}
      }
    }
    // As after any edit of the program: it is built and loaded, so the checks see this version.
    const {backups, loaded} = await applySolutionAndLoad(changing, dir, {lab: lab.id})
    for (const f of changing) this.log(`${chalk.green('✔')} wrote ${f.workspacePath}`)
    for (const b of backups) this.log(chalk.dim(`  your previous version: ${b}`))
    if (loaded) this.log(`${chalk.green('✔')} ${loaded}`)
    return {
      lab: lab.id,
      step: step?.id ?? 'all',
      applied: true,
      written: changing.map((f) => f.workspacePath),
      backups,
      loaded: loaded ?? null,
    }
  }
}
