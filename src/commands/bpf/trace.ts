import {Flags} from '#oclif'
import {existsSync} from 'node:fs'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands, sameAsLine} from '../../ui/same-as.js'
import {streamTrace} from '../../bpf/trace.js'
import {TRACEFS} from '../../host/paths.js'
import {EnvironmentError} from '../../host/errors.js'
import {traceSilence} from '../../bpf/trace-silence.js'
import {describeTraceSilence} from '../../ui/trace-silence-view.js'
import {podNamesByHostVeth} from '../../pods/service.js'

export default class BpfTrace extends BaseCommand {
  static summary = 'Stream bpf_printk output from trace_pipe, hex IPv4 addresses shown dotted.'
  static description =
    'Reads /sys/kernel/tracing/trace_pipe for --for seconds. With --json each line is one JSON object (NDJSON): {time, line}. trace_pipe is consumed as it is read: two readers split the lines between them. When no line arrived, says so on stderr with what the host shows: the programs pinned under /sys/fs/bpf/ebpfcni or attached to an interface, whether each calls bpf_printk and where it is attached, its run count when kernel.bpf_stats_enabled is 1, tracing_on, and other readers of trace_pipe.'
  static examples = [
    '<%= config.bin %> bpf trace --for 10',
    '<%= config.bin %> bpf trace --filter ebpfcni',
    '<%= config.bin %> bpf trace --for 5 --json',
  ]
  static flags = {
    for: Flags.integer({description: 'Stop after this many seconds.', default: 30, min: 1, max: 3600}),
    filter: Flags.string({description: 'Only lines containing this text.'}),
    json: Flags.boolean({description: 'One JSON object per line (NDJSON).'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(BpfTrace)
    if (!existsSync(`${TRACEFS}/trace_pipe`)) {
      throw new EnvironmentError(
        `tracefs is not mounted at ${TRACEFS}: there is no trace_pipe to read bpf_printk from`,
        `mount -t tracefs tracefs ${TRACEFS} (or: ebpfcni doctor --fix)`,
      )
    }
    if (!flags.json) this.logToStderr(sameAsLine(plainCommands.trace()))
    let skipped = 0
    const n = await streamTrace({
      seconds: flags.for,
      filter: flags.filter,
      onLine: (l) => this.log(flags.json ? JSON.stringify({time: new Date().toISOString(), line: l}) : l),
      onSkipped: () => skipped++,
    })
    if (n > 0) {
      if (!flags.json) process.stderr.write(`(${n} line(s) in ${flags.for} s)\n`)
      return
    }
    // Nothing arrived: stdout stays the (empty) stream; what the host shows goes to stderr.
    const lines = describeTraceSilence(await traceSilence(), {
      seconds: flags.for,
      filter: flags.filter,
      skipped,
      pods: await podNamesByHostVeth(),
    })
    process.stderr.write(`${lines.join('\n')}\n`)
  }
}
