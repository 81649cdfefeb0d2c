import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {resolve} from 'node:path'
import {BaseCommand} from '../ui/base-command.js'
import {exportLabs, PLATFORMS, type Platform} from '../labs/export.js'
import {UserError} from '../host/errors.js'

export default class Export extends BaseCommand {
  static summary = 'Write the labs for Instruqt or Killercoda: step texts and check scripts.'
  static description =
    "Instruqt: a track with one challenge per step (assignment.md, check-workstation, setup-workstation). Killercoda: a scenario per lab (index.json, each step's text.md and verify.sh). Every check script runs the step's real checks (ebpfcni check N --step S --json) on the VM, exits 0 only when they pass, and on failure prints FAIL: with the first failing check's message and hint (Instruqt's fail-message too). The VM needs ebpfcni set up (scripts/setup.sh). DIR must be new or empty."
  static examples = [
    '<%= config.bin %> export killercoda ./scenarios',
    '<%= config.bin %> export instruqt ./track --lab 1 --lab 2',
  ]
  static enableJsonFlag = true
  static args = {
    platform: Args.string({
      ignoreStdin: true,
      required: true,
      options: PLATFORMS,
      description: 'instruqt or killercoda',
    }),
    dir: Args.string({ignoreStdin: true, required: true, description: 'Where to write it (new or empty).'}),
  }
  static flags = {lab: Flags.integer({description: 'Only this lab (repeatable).', multiple: true, min: 1})}

  async run(): Promise<{platform: Platform; dir: string; files: string[]}> {
    const {args, flags} = await this.parse(Export)
    const dir = resolve(args.dir)
    if (!PLATFORMS.includes(args.platform as Platform)) throw new UserError(`unknown platform ${args.platform}`)
    const files = exportLabs(args.platform as Platform, dir, flags.lab)
    this.log(`${chalk.green('✔')} ${files.length} files for ${args.platform} in ${dir}`)
    return {platform: args.platform as Platform, dir, files}
  }
}
