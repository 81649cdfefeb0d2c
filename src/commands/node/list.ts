import {Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {Cluster, type NodeRecord} from '../../nodes/cluster.js'
import type {UnderlayCounts} from '../../nodes/underlay-program.js'
import {PodService} from '../../pods/service.js'

export default class NodeList extends BaseCommand {
  static summary = 'Lab 5: the simulated nodes, their pods, and what the underlay carried.'
  static description =
    'Each node with its pod CIDR, underlay and tunnel addresses and its pods. The underlay line counts the IPv4 packets the nodes sent each other: VXLAN (UDP 8472) and pod addresses carried in the clear (native routing), and whether the underlay is strict (drops pod addresses, as a cloud VPC would: --strict, --open).'
  static examples = [
    '<%= config.bin %> node list',
    '<%= config.bin %> node list --strict',
    '<%= config.bin %> node list --json',
  ]
  static enableJsonFlag = true
  static flags = {
    strict: Flags.boolean({
      description: 'Make the underlay drop packets to pod addresses (then only an overlay gets across).',
      exclusive: ['open'],
    }),
    open: Flags.boolean({description: 'Make the underlay carry pod addresses again.'}),
  }
  protected rootReason = 'it reads BPF maps'

  async run(): Promise<{nodes: Array<NodeRecord & {pods: string[]}>; underlay?: Record<string, string | boolean>}> {
    const {flags} = await this.parse(NodeList)
    const cluster = new Cluster()
    const nodes = cluster.list()
    if (!nodes.length) {
      this.log('No nodes. Make two: ebpfcni node add a b')
      return {nodes: []}
    }
    if (flags.strict || flags.open) cluster.underlay.configure(Boolean(flags.strict))
    const pods = new PodService().list()
    const out = nodes.map((n) => ({
      ...n,
      pods: pods.filter((p) => p.nodeNetns === n.netnsPath).map((p) => `${p.name} ${p.ip ?? ''}`.trim()),
    }))
    for (const n of out)
      this.log(
        `${chalk.bold(n.name)}  pods ${n.podCidr}  underlay ${n.underlayIp}  tunnel ${n.tunnelIp}  ${chalk.dim(n.netnsName)}${n.pods.length ? `\n   pods: ${n.pods.join(', ')}` : ''}`,
      )
    const c: UnderlayCounts = cluster.underlay.counts()
    const strict = cluster.underlay.strict()
    this.log(
      `underlay ${cluster.spec.bridge}: ${c.ipv4} IPv4 packets, ${c.vxlan} VXLAN (UDP 8472), ${c.podClear} to pod addresses in the clear${strict ? `, ${c.dropped} of them dropped (strict)` : ''}; ${strict ? chalk.yellow('strict: pod addresses are dropped') : 'open: pod addresses are carried'}`,
    )
    return {
      nodes: out,
      underlay: {
        ipv4: String(c.ipv4),
        vxlan: String(c.vxlan),
        podClear: String(c.podClear),
        dropped: String(c.dropped),
        strict,
      },
    }
  }
}
