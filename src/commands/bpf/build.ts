import {Args, Flags} from '#oclif'
import {join} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {buildBpf} from '../../bpf/build.js'
import {renderBuild} from '../../ui/bpf-report.js'
import {workspaceDir} from '../../host/paths.js'
import {workspaceFlag} from '../../ui/common-flags.js'

export default class BpfBuild extends BaseCommand {
  static summary = 'Compile an eBPF C program (clang -O2 -g -target bpf), errors with a caret.'
  static description =
    "FILE defaults to ebpfcni.bpf.c in your workspace; the object goes next to it (ebpfcni.bpf.o), where `ebpfcni bpf load` looks. clang's errors are shown with file:line:col, the source line and a caret."
  static examples = [
    '<%= config.bin %> bpf build',
    '<%= config.bin %> bpf build ./prog.bpf.c -o prog.o',
    '<%= config.bin %> bpf build --json',
  ]
  static enableJsonFlag = true
  // clang needs no privileges.
  protected requiresRoot = false
  static args = {
    file: Args.string({ignoreStdin: true, description: 'C source (default: ebpfcni.bpf.c in your workspace).'}),
  }
  static flags = {
    output: Flags.string({char: 'o', description: 'Object file (default: next to the source, .o).'}),
    workspace: workspaceFlag,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(BpfBuild)
    const r = await buildBpf(args.file ?? join(workspaceDir(flags.workspace), 'ebpfcni.bpf.c'), flags.output)
    this.log(renderBuild(r))
    if (r.command) this.sameAs(plainCommands.build(r.command))
    if (!r.ok) process.exitCode = 1
    return r
  }
}
