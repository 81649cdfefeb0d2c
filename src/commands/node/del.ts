import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {Cluster} from '../../nodes/cluster.js'
import {UserError} from '../../host/errors.js'

export default class NodeDel extends BaseCommand {
  static summary = 'Lab 5: remove simulated nodes, their pods first.'
  static examples = ['<%= config.bin %> node del b', '<%= config.bin %> node del --all']
  static strict = false
  static enableJsonFlag = true
  static args = {names: Args.string({ignoreStdin: true, description: 'Node names.'})}
  static flags = {all: Flags.boolean({description: 'Remove every node (and the underlay).'})}
  protected rootReason = 'it deletes network namespaces and links'

  async run(): Promise<{deleted: string[]}> {
    const {argv, flags} = await this.parse(NodeDel)
    const cluster = new Cluster()
    const names = flags.all ? cluster.list().map((n) => n.name) : (argv as string[])
    if (!names.length && !flags.all) throw new UserError('name a node or pass --all')
    for (const name of names) {
      cluster.get(name)
      await cluster.remove(name)
      this.log(`${chalk.green('✔')} removed node ${name} (its pods, netns and underlay link)`)
    }
    if (!names.length) this.log('No nodes.')
    return {deleted: names}
  }
}
