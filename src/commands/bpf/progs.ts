import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {allAttachments} from '../../bpf/tcx.js'
import {podNamesByHostVeth} from '../../pods/service.js'
import {table} from '../../ui/render.js'

export default class BpfProgs extends BaseCommand {
  static summary = 'List BPF programs attached to host interfaces: device, hook, mode, id, tag.'
  static description =
    'What `bpftool net` shows, with the pod each host veth belongs to: XDP programs (and their mode) TC clsact programs and tcx links (mode tcx, in the order they run) on every host interface.'
  static examples = ['<%= config.bin %> bpf progs', '<%= config.bin %> bpf progs --json']
  static enableJsonFlag = true

  async run(): Promise<unknown> {
    await this.parse(BpfProgs)
    const pods = await podNamesByHostVeth()
    const rows = (await allAttachments()).map((a) => ({...a, pod: pods.get(a.dev) ?? null}))
    this.sameAs(plainCommands.progs())
    if (rows.length === 0) this.log('No BPF program is attached to a host interface.')
    else
      this.log(
        table(
          ['DEVICE', 'POD', 'HOOK', 'MODE', 'ID', 'NAME', 'TAG'],
          rows.map((r) => [r.dev, r.pod ?? '-', r.hook, r.mode, String(r.id), r.name ?? '-', r.tag ?? '-']),
        ),
      )
    return rows
  }
}
