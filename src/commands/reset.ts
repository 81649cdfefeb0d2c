import {Flags} from '@oclif/core'
import {confirm} from '@inquirer/prompts'
import chalk from 'chalk'
import {BaseCommand, interactive} from '../ui/base-command.js'
import {UserError} from '../host/errors.js'
import {createResetService} from '../labs/reset-wiring.js'
import {json} from '../ui/render.js'

export default class Reset extends BaseCommand {
  static summary = 'Remove what the labs created on this host: pods, netns, links, pins, attachments, installed files.'
  static description = `Removes everything named in the resource ledger (/var/lib/ebpfcni/ledger.json), restores
files the tool replaced, and removes what the learner's plugin made that the lab can name
(the bridge from the config, veths on it, XDP programs, pins under /sys/fs/bpf/ebpfcni).
Idempotent: running it twice is safe. Asks for confirmation on a terminal unless --yes.`

  static examples = ['<%= config.bin %> reset --dry-run', '<%= config.bin %> reset --all --yes', '<%= config.bin %> reset --lab 1']

  static flags = {
    lab: Flags.integer({description: 'Only what lab N created.', min: 1, max: 4, exclusive: ['all']}),
    all: Flags.boolean({description: 'Everything (the default when --lab is not given); also clears progress.'}),
    yes: Flags.boolean({char: 'y', description: 'Do not ask for confirmation.'}),
    'dry-run': Flags.boolean({description: 'List what would be removed; change nothing.'}),
    json: Flags.boolean({description: 'Print the plan or outcome as JSON.'}),
    'keep-progress': Flags.boolean({description: 'Keep lab progress (only remove host objects).'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Reset)
    const service = createResetService()
    const actions = await service.plan(flags.lab)
    const scope = flags.lab ? `lab ${flags.lab}` : 'all labs'

    if (flags['dry-run']) {
      if (flags.json) this.log(json({dryRun: true, scope, actions: actions.map((a) => ({kind: a.kind, description: a.description}))}))
      else if (actions.length === 0) this.log(`Nothing to remove for ${scope}.`)
      else {
        this.log(`reset would, for ${scope}:`)
        for (const a of actions) this.log(`  - ${a.description}`)
      }
      return
    }
    if (actions.length > 0 && !flags.yes) {
      if (!interactive()) throw new UserError(`reset would remove ${actions.length} object(s); without a terminal it needs --yes (see them with --dry-run).`)
      this.log(actions.map((a) => `  - ${a.description}`).join('\n'))
      if (!(await confirm({message: `Remove these ${actions.length} object(s) for ${scope}?`, default: false}))) {
        this.log('Nothing removed.')
        return
      }
    }
    const outcome = await service.execute(actions, (a, error) => {
      if (!flags.json) this.log(error ? `${chalk.red('✘')} ${a.description}: ${error}` : `${chalk.green('✔')} ${a.description}`)
    })
    if (!flags['keep-progress']) service.clearProgress(flags.lab)
    if (flags.json) this.log(json({scope, ...outcome}))
    else if (actions.length === 0) this.log(`Nothing to remove for ${scope}; the host is clean.`)
    if (outcome.failed.length > 0) {
      throw new UserError(`${outcome.failed.length} object(s) could not be removed; they stay in the ledger and the next reset retries them.`)
    }
  }
}
