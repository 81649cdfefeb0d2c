import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PodService} from '../../pods/service.js'
import {UserError, errorMessage} from '../../host/errors.js'

export default class PodDel extends BaseCommand {
  static summary = 'Delete a pod: CNI DEL with the cached result, then its workload and netns.'
  static examples = ['<%= config.bin %> pod del httpbin', '<%= config.bin %> pod del --all']
  static args = {name: Args.string({ignoreStdin: true, description: 'Pod name.'})}
  static enableJsonFlag = true
  static flags = {all: Flags.boolean({description: 'Delete every pod.', exclusive: ['name']})}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PodDel)
    const pods = new PodService()
    if (!args.name && !flags.all) throw new UserError('name a pod or pass --all')
    const names = flags.all ? pods.list().map((p) => p.name) : [args.name as string]
    const failures: string[] = []
    const deleted: string[] = []
    for (const n of names) {
      try {
        await pods.remove(n)
        deleted.push(n)
        this.log(`${chalk.green('✔')} deleted pod ${n}`)
      } catch (err) {
        failures.push(errorMessage(err))
        this.log(`${chalk.red('✘')} ${errorMessage(err)}`)
      }
    }
    if (names.length === 0) this.log('No pods.')
    if (failures.length)
      throw new UserError(`${failures.length} pod deletion(s) reported problems: ${failures.join('; ')}`, {exitCode: 1})
    return {deleted}
  }
}
