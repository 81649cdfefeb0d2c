import {Args, Flags} from '@oclif/core'
import {join} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {buildBpf} from '../../bpf/build.js'
import {renderBuild} from '../../ui/bpf-report.js'
import {workspaceDir} from '../../host/paths.js'
import {json} from '../../ui/render.js'

export default class BpfBuild extends BaseCommand {
  static summary = 'Compile an eBPF C program with clang -O2 -g -target bpf; errors shown with file:line:col and a caret.'
  static examples = ['<%= config.bin %> bpf build', '<%= config.bin %> bpf build ./prog.bpf.c -o prog.o']
  static args = {file: Args.string({description: 'C source (default: ebpfcni.bpf.c in your workspace).'})}
  static flags = {
    output: Flags.string({char: 'o', description: 'Object file (default: next to the source, .o).'}),
    workspace: Flags.string({char: 'w', description: 'Your workspace directory.', env: 'EBPFCNI_WORKSPACE'}),
    json: Flags.boolean({description: 'Print the result as JSON.'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BpfBuild)
    const r = await buildBpf(args.file ?? join(workspaceDir(flags.workspace), 'ebpfcni.bpf.c'), flags.output)
    this.log(flags.json ? json(r) : renderBuild(r))
    if (!r.ok) process.exitCode = 1
  }
}
