import {Flags} from '#oclif'
import {BaseCommand} from '../ui/base-command.js'
import {runDoctor} from '../doctor/doctor.js'
import {noneFailed} from '../checks/engine.js'
import {renderDoctor} from '../ui/doctor-report.js'

export default class Doctor extends BaseCommand {
  static summary = 'Check that this machine has everything the labs need.'
  static description =
    'Preflight: root and capabilities, kernel and BTF, bpffs and tracefs, clang targeting BPF, libbpf through koffi, bpftool, jq, iproute2, the CNI directories, ip_forward, and the optional runtimes (podman, containerd). Each failing item says the exact fix. Exit 0 when every required item passes, 2 otherwise.'
  static enableJsonFlag = true

  static examples = ['<%= config.bin %> doctor', '<%= config.bin %> doctor --fix', '<%= config.bin %> doctor --json']

  static flags = {
    fix: Flags.boolean({
      description: 'Mount bpffs/tracefs, create CNI directories, enable ip_forward; say what could not be fixed.',
    }),
  }

  // Doctor reports "not root" as an item rather than refusing to run.
  protected requiresRoot = false

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Doctor)
    const results = await runDoctor({fix: flags.fix})
    for (const line of renderDoctor(results, {fix: flags.fix})) this.log(line)
    const passed = noneFailed(results)
    if (!passed) process.exitCode = 2
    return {passed, items: results}
  }
}
