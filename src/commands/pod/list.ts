import {Flags} from '@oclif/core'
import {BaseCommand} from '../../ui/base-command.js'
import {PodService} from '../../pods/service.js'
import {json, table} from '../../ui/render.js'

export default class PodList extends BaseCommand {
  static summary = 'List pods: name, IP, MAC, host veth, labels, runtime.'
  static flags = {json: Flags.boolean({description: 'Print as JSON.'})}

  async run(): Promise<void> {
    const {flags} = await this.parse(PodList)
    const svc = new PodService()
    const rows = await Promise.all(svc.list().map(async (p) => ({
      name: p.name, ip: p.ip ?? null, mac: p.mac ?? null, hostVeth: (await svc.hostVeth(p)) ?? null, labels: p.labels, runtime: p.runtime, netns: p.netnsPath, workload: p.workload,
    })))
    if (flags.json) return this.log(json(rows))
    if (rows.length === 0) return this.log('No pods. Create one: ebpfcni pod add NAME')
    this.log(table(['NAME', 'IP', 'MAC', 'HOST VETH', 'LABELS', 'RUNTIME', 'WORKLOAD'],
      rows.map((r) => [r.name, r.ip ?? '-', r.mac ?? '-', r.hostVeth ?? '-', Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-', r.runtime, r.workload])))
  }
}
