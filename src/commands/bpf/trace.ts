import {Flags} from '@oclif/core'
import {BaseCommand} from '../../ui/base-command.js'
import {streamTrace} from '../../bpf/trace.js'

export default class BpfTrace extends BaseCommand {
  static summary = 'Stream bpf_printk output from trace_pipe, with hex IPv4 addresses shown dotted.'
  static examples = ['<%= config.bin %> bpf trace --for 10', '<%= config.bin %> bpf trace --filter ebpfcni']
  static flags = {
    for: Flags.integer({description: 'Stop after this many seconds.', default: 30, min: 1, max: 3600}),
    filter: Flags.string({description: 'Only lines containing this text.'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(BpfTrace)
    const n = await streamTrace({seconds: flags.for, filter: flags.filter, onLine: (l) => this.log(l)})
    process.stderr.write(`(${n} line(s) in ${flags.for} s)\n`)
  }
}
