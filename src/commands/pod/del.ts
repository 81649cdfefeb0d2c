import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PodService} from '../../pods/service.js'
import {UserError, errorMessage} from '../../host/errors.js'

export default class PodDel extends BaseCommand {
  static summary = 'Delete a pod: CNI DEL (with the cached ADD result), stop its workload, remove its netns.'
  static examples = ['<%= config.bin %> pod del httpbin', '<%= config.bin %> pod del --all']
  static args = {name: Args.string({description: 'Pod name.'})}
  static flags = {all: Flags.boolean({description: 'Delete every pod.'})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(PodDel)
    const pods = new PodService()
    if (!args.name && !flags.all) throw new UserError('name a pod or pass --all')
    const names = flags.all ? pods.list().map((p) => p.name) : [args.name as string]
    const failures: string[] = []
    for (const n of names) {
      try {
        await pods.remove(n)
        this.log(`${chalk.green('✔')} deleted pod ${n}`)
      } catch (err) {
        failures.push(errorMessage(err))
        this.log(`${chalk.red('✘')} ${errorMessage(err)}`)
      }
    }
    if (names.length === 0) this.log('No pods.')
    if (failures.length) throw new UserError(`${failures.length} pod deletion(s) reported problems`, {exitCode: 1})
  }
}
