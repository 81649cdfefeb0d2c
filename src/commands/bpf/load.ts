import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {loadAndPin} from '../../bpf/programs.js'
import {renderVerifier} from '../../ui/bpf-report.js'
import {BPF_PIN_ROOT} from '../../host/paths.js'
import {json} from '../../ui/render.js'

export default class BpfLoad extends BaseCommand {
  static summary = 'Load an object file into the kernel and pin its programs and maps (default under /sys/fs/bpf/ebpfcni).'
  static description = 'When the verifier refuses the program, shows its last lines, the C source line it failed on, and why.'
  static examples = ['<%= config.bin %> bpf load ~/ebpfcni-lab/ebpfcni.bpf.o']
  static args = {object: Args.string({description: 'Object file built by `ebpfcni bpf build`.', required: true})}
  static flags = {
    'pin-dir': Flags.string({description: 'Where to pin.', default: BPF_PIN_ROOT}),
    replace: Flags.boolean({description: 'Replace pins that already exist (after editing and rebuilding).'}),
    json: Flags.boolean({description: 'Print the outcome as JSON.'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(BpfLoad)
    const r = loadAndPin(args.object, {pinDir: flags['pin-dir'], replace: flags.replace})
    if (flags.json) this.log(json(r))
    else if (!r.ok) this.log(renderVerifier(r.verifier!))
    else for (const p of [...r.programs, ...r.maps]) this.log(`${chalk.green('✔')} pinned ${p.name} at ${p.pin}`)
    if (!r.ok) process.exitCode = 1
  }
}
