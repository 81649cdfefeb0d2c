import {BaseCommand} from '../ui/base-command.js'
import {readTopology} from '../topology/topology.js'
import {renderTopology} from '../ui/topology-view.js'
import {plainCommands} from '../ui/same-as.js'
import {staleLoadWarning} from '../ui/stale-load.js'
import {BPF_PIN_ROOT} from '../host/paths.js'

export default class Topology extends BaseCommand {
  static summary = 'Draw the node: bridges, veths, pods, the programs on each device, pinned maps.'
  static description =
    'What `ip`, `bpftool net` and `bpftool map` would tell you, in one picture: every bridge on the host with its address (with pods or without), each pod on it (name, IP, MAC, labels, runtime, netns) behind its host veth, the XDP and TC programs attached to that veth (id, name, direction), the programs on each bridge device itself, each port on a bridge that belongs to no pod with its programs and how to remove it (a veth left by a failed ADD), and the maps pinned under /sys/fs/bpf/ebpfcni with their entry counts. --json prints the same model.'
  static examples = ['<%= config.bin %> topology', '<%= config.bin %> topology --json']
  static enableJsonFlag = true
  protected rootReason = 'it reads BPF maps and every pod network namespace'

  async run(): Promise<unknown> {
    await this.parse(Topology)
    const t = await readTopology()
    this.log(renderTopology(t))
    const stale = staleLoadWarning(BPF_PIN_ROOT)
    if (stale) this.logToStderr(stale)
    this.sameAs([
      'ip -br link show type bridge',
      'ip -br link show master BRIDGE',
      ...plainCommands.progs(),
      ...plainCommands.listMaps(),
    ])
    return t
  }
}
