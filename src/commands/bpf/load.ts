import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {loadAndPin} from '../../bpf/programs.js'
import {sourceNewerThanObject} from '../../bpf/build.js'
import {renderOlderObject, renderVerifier} from '../../ui/bpf-report.js'
import {workspaceDir} from '../../host/paths.js'
import {UserError} from '../../host/errors.js'
import {pinDirFlag} from '../../ui/bpf-flags.js'
import {workspaceFlag} from '../../ui/common-flags.js'
import {existsSync} from 'node:fs'
import {join} from 'node:path'

export default class BpfLoad extends BaseCommand {
  static summary = 'Load an object file and pin its programs and maps (under --pin-dir).'
  static description =
    'OBJECT defaults to the program `ebpfcni bpf build` made in your workspace (ebpfcni.bpf.o). When the verifier refuses the program, shows its last lines, the C source line it failed on, and why. Warns when the source beside the object (X.c for X.o) was saved after the object was built: that edit is not in what it loads. With --replace, every interface whose XDP hook ran the old pinned program, in generic or native mode, runs the new one in the same mode, and so does every clsact TC hook ebpfcni attached it to (lab 4: to_pod), as an agent does on upgrade; each is named, and so is any the kernel refused to move (it keeps the old program).'
  static examples = [
    '<%= config.bin %> bpf load',
    '<%= config.bin %> bpf load --replace',
    '<%= config.bin %> bpf load ./prog.o --pin-dir /sys/fs/bpf/mine',
  ]
  static enableJsonFlag = true
  static args = {
    object: Args.string({ignoreStdin: true, description: 'Object file (default: ebpfcni.bpf.o in your workspace).'}),
  }
  static flags = {
    'pin-dir': pinDirFlag,
    replace: Flags.boolean({
      description:
        'Replace pins that already exist (after editing and rebuilding); interfaces running the old program (XDP generic or native, TC) get the new one.',
    }),
    workspace: workspaceFlag,
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(BpfLoad)
    const object = args.object ?? join(workspaceDir(flags.workspace), 'ebpfcni.bpf.o')
    if (!existsSync(object))
      throw new UserError(`${object} does not exist`, {
        hint: args.object
          ? 'build it first: ebpfcni bpf build FILE.c -o FILE.o'
          : 'build your program first: ebpfcni bpf build',
      })
    // Loading an object older than its source pins the program as it was before the last edit.
    const newerSource = sourceNewerThanObject(object)
    if (newerSource && !this.jsonEnabled()) this.logToStderr(renderOlderObject(object, newerSource))
    const r = loadAndPin(object, {pinDir: flags['pin-dir'], replace: flags.replace})
    this.sameAs(plainCommands.load(object, flags['pin-dir']))
    if (!r.ok) this.log(renderVerifier(r.verifier!))
    else for (const p of [...r.programs, ...r.maps]) this.log(`${chalk.green('✔')} pinned ${p.name} at ${p.pin}`)
    for (const a of r.reattached ?? [])
      this.log(`${chalk.green('✔')} ${a.dev} now runs the new ${a.program} (${a.hook})`)
    for (const a of r.left ?? [])
      this.log(`${chalk.red('✘')} ${a.dev} still runs the old ${a.program} (${a.hook}): ${a.why}`)
    if (r.left?.length) process.exitCode = 1
    if (!r.ok) process.exitCode = 1
    return newerSource ? {...r, newerSource} : r
  }
}
