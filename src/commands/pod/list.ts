import {BaseCommand} from '../../ui/base-command.js'
import {PodService} from '../../pods/service.js'
import {attachments} from '../../net/attachments.js'
import {table} from '../../ui/render.js'

export default class PodList extends BaseCommand {
  static summary = 'List pods: name, IP, MAC, host veth, programs on it, labels, runtime.'
  static description =
    "The IP is the one the runtime reports (for cri, what containerd's PodSandboxStatus says). BPF shows the programs attached to the pod's host veth: xdp:ID (generic or native), tc-in:ID, tc-out:ID."
  static examples = ['<%= config.bin %> pod list', '<%= config.bin %> pod list --json']
  static enableJsonFlag = true

  async run(): Promise<unknown> {
    await this.parse(PodList)
    const svc = new PodService()
    const attached = await attachments()
    const rows = await Promise.all(
      svc.list().map(async (p) => {
        const hostVeth = (await svc.hostVeth(p)) ?? null
        const bpf = attached
          .filter((a) => a.dev === hostVeth)
          .map((a) => ({hook: a.hook, id: a.id, mode: a.mode, name: a.name ?? null}))
        return {
          name: p.name,
          ip: p.ip ?? null,
          mac: p.mac ?? null,
          hostVeth,
          bpf,
          labels: p.labels,
          runtime: p.runtime,
          netns: p.netnsPath,
          workload: p.workload,
        }
      }),
    )
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
