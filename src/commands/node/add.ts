import {Args} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {Cluster, type NodeRecord} from '../../nodes/cluster.js'
import {UserError} from '../../host/errors.js'
import {onInterrupt} from '../../host/interrupt.js'

export default class NodeAdd extends BaseCommand {
  static summary = 'Lab 5: make simulated nodes on this machine, joined by an underlay.'
  static description =
    "Each node is a network namespace (ebpfcni-node-NAME) with its own pod CIDR (10.244.N.0/24), an eth0 on the underlay (10.99.0.N/24: a bridge, ebpfcni-ul, in this machine's namespace) and a tunnel address for an overlay (10.245.0.N). No daemon runs: nodes cost nothing until pods use them. Pods go on a node with `ebpfcni pod add NAME --node NODE`; your plugin then runs in the node's network namespace. `ebpfcni reset` (or `node del --all`) removes everything."
  static examples = ['<%= config.bin %> node add a b', '<%= config.bin %> node add c --json']
  static strict = false
  static enableJsonFlag = true
  static args = {names: Args.string({ignoreStdin: true, description: 'Node names (1-8 lowercase letters or digits).'})}
  protected rootReason = 'it creates network namespaces and links'

  async run(): Promise<NodeRecord[]> {
    const {argv} = await this.parse(NodeAdd)
    const names = argv as string[]
    if (!names.length) throw new UserError('name at least one node', {hint: 'ebpfcni node add a b'})
    const cluster = new Cluster()
    const made: NodeRecord[] = []
    // Ctrl-C removes what this run made: the nodes it finished and the one half made (in the ledger already).
    let making: string | undefined
    const unregister = onInterrupt(async () => {
      for (const n of [...(making ? [making] : []), ...made.map((m) => m.name).reverse()])
        await cluster.remove(n).catch(() => undefined)
    })
    try {
      for (const name of names) {
        making = name
        const n = await cluster.add(name)
        making = undefined
        made.push(n)
        this.log(
          `${chalk.green('✔')} node ${chalk.bold(n.name)}: netns ${n.netnsName}, pods ${n.podCidr}, underlay ${n.underlayIp} (${n.underlayLink} on ${cluster.spec.bridge}), tunnel ${n.tunnelIp}`,
        )
      }
    } finally {
      unregister()
    }
    this.sameAs([
      `ip netns add ${made[0].netnsName}`,
      `ip link add ${made[0].underlayLink} type veth peer name eth0 netns ${made[0].netnsName}`,
      `ip link set ${made[0].underlayLink} master ${cluster.spec.bridge} up`,
      `ip -n ${made[0].netnsName} addr add ${made[0].underlayIp}/24 dev eth0 && ip -n ${made[0].netnsName} link set eth0 up`,
    ])
    return made
  }
}
