import {Flags} from '#oclif'
import confirm from '@inquirer/confirm'
import chalk from 'chalk'
import {BaseCommand, interactive} from '../ui/base-command.js'
import {UserError} from '../host/errors.js'
import {createResetService} from '../reset/service.js'
import {labDiscoverers} from '../labs/registry.js'
import {forgetProgress, progressHeld} from '../reset/progress.js'
import {actionLine, closingLines, dryRunJson, dryRunText, keptLines, planLines} from '../ui/reset-view.js'
import {labArg, labFlag, yesFlag} from '../ui/common-flags.js'

export default class Reset extends BaseCommand {
  static summary = 'Remove what the labs made on this host; keep your progress unless asked.'
  static description =
    'Removes everything named in the resource ledger (/var/lib/ebpfcni/ledger.json), restores files the tool replaced, and removes what your plugin made that the lab can name (the bridge from the config, veths on it, XDP programs, pins under /sys/fs/bpf/ebpfcni, plugin processes a killed run left). What another ebpfcni run that is still running made (a check in another terminal, `lab all --auto`) stays, named with the pid and command of that run: it removes its own objects when it ends. Your progress (steps done, hints seen) is your work: it stays unless you add --progress. Idempotent: running it twice is safe. Asks on a terminal unless --yes.'

  static examples = [
    '<%= config.bin %> reset --dry-run',
    '<%= config.bin %> reset --all --yes',
    '<%= config.bin %> reset 1',
    '<%= config.bin %> reset --all --progress --yes',
  ]
  static enableJsonFlag = true

  static args = {lab: labArg({description: 'Only what this lab made (the same as --lab).'})}
  static flags = {
    lab: labFlag({description: 'Only what lab N made (as the positional LAB).', exclusive: ['all']}),
    all: Flags.boolean({description: 'Every lab (what reset does when no lab is named).', exclusive: ['lab']}),
    progress: Flags.boolean({
      description: 'Also forget progress (steps done, hints seen) for the labs reset, in every workspace on this host.',
    }),
    yes: yesFlag,
    'dry-run': Flags.boolean({description: 'List what would be removed; change nothing.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Reset)
    if (args.lab !== undefined && flags.all) throw new UserError('name a lab or pass --all, not both')
    if (args.lab !== undefined && flags.lab !== undefined && args.lab !== flags.lab)
      throw new UserError(`lab ${args.lab} and --lab ${flags.lab} disagree`)
    const lab = args.lab ?? flags.lab
    const service = createResetService(await labDiscoverers(lab))
    const actions = await service.plan(lab)
    const scope = lab ? `lab ${lab}` : 'all labs'
    // Read once: what --progress would forget, and what the dry run says stays.
    const held = progressHeld(lab)
    const progress = flags.progress ? held : []
    if (flags['dry-run']) {
      this.log(dryRunText(scope, actions, progress, flags.progress ? [] : held))
      return dryRunJson(scope, actions, progress)
    }
    const count = actions.filter((a) => !a.heldBy).length + progress.length
    if (count > 0 && !flags.yes) {
      if (!interactive())
        throw new UserError(`reset would remove ${count} thing(s); without a terminal it needs --yes`, {
          hint: 'see them first with: ebpfcni reset --dry-run',
        })
      this.log([...planLines(actions, progress), ...keptLines(actions, 'and leave:')].join('\n'))
      if (!(await confirm({message: `Remove these ${count} thing(s) for ${scope}?`, default: false}))) {
        this.log('Nothing removed.')
        return {scope, done: [], kept: [], failed: [], progressCleared: false}
      }
    }
    const outcome = await service.execute(actions, (a, error) => this.log(actionLine(a, error)))
    if (flags.progress) forgetProgress(lab)
    for (const p of progress) this.log(`${chalk.green('✔')} forgot progress of ${p}`)
    for (const line of closingLines(scope, actions, count)) this.log(line)
    if (outcome.failed.length > 0)
      throw new UserError(
        `${outcome.failed.length} object(s) could not be removed; they stay in the ledger and the next reset retries them.`,
      )
    return {scope, ...outcome, progressCleared: flags.progress}
  }
}
