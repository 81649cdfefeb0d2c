import {BaseCommand} from '../../ui/base-command.js'
import {podViews} from '../../topology/topology.js'
import {table} from '../../ui/render.js'

export default class PodList extends BaseCommand {
  static summary = 'List pods: name, IP, MAC, host veth, programs on it, labels, runtime.'
  static description =
    "The IP is the one the runtime reports (for cri, what containerd's PodSandboxStatus says). BPF shows the programs attached to the pod's host veth: xdp:ID (generic or native), tc-in:ID, tc-out:ID."
  static examples = ['<%= config.bin %> pod list', '<%= config.bin %> pod list --json']
  static enableJsonFlag = true

  async run(): Promise<unknown> {
    await this.parse(PodList)
    // What topology shows of each pod, flat, with the programs under the name `bpf`.
    const rows = (await podViews()).map((p) => ({
      name: p.name,
      ip: p.ip,
      mac: p.mac,
      hostVeth: p.hostVeth,
      bpf: p.programs,
      labels: p.labels,
      runtime: p.runtime,
      netns: p.netns,
      workload: p.workload,
    }))
    const short = (h: string) => (h === 'xdp' ? 'xdp' : h === 'tc-ingress' ? 'tc-in' : 'tc-out')
    if (rows.length === 0) this.log('No pods. Create one: ebpfcni pod add NAME')
    else {
      this.log(
        table(
          ['NAME', 'IP', 'MAC', 'HOST VETH', 'BPF', 'LABELS', 'RUNTIME', 'WORKLOAD'],
          rows.map((r) => [
            r.name,
            r.ip ?? '-',
            r.mac ?? '-',
            r.hostVeth ?? '-',
            r.bpf.map((b) => `${short(b.hook)}:${b.id}${b.hook === 'xdp' ? `(${b.mode})` : ''}`).join(' ') || '-',
            Object.entries(r.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(',') || '-',
            r.runtime,
            r.workload,
          ]),
        ),
      )
    }
    return rows
  }
}
