import {Flags} from '#oclif'
import chalk from 'chalk'
import {join} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {workspaceStatus} from '../../labs/session.js'
import {stateDir, workspaceDir} from '../../host/paths.js'
import {workspaceFlag} from '../../ui/common-flags.js'
import {TEXTFILE_PATH, textfileMetrics, verdictOk, writeTextfile} from '../../fleet/textfile.js'

export default class FleetTextfile extends BaseCommand {
  static summary = "The room: this VM's progress as node-exporter textfile metrics."
  static description = `Writes ebpfcni_step_done, ebpfcni_step_attempts, ebpfcni_hints_shown (per lab and step), ebpfcni_doctor_ok and ebpfcni_smoke_ok (from the provisioning's doctor --json and lab all --auto --json, when their files exist) and ebpfcni_info{version} to ${TEXTFILE_PATH}, where Debian's prometheus-node-exporter reads textfiles. The write is atomic. Run it from a timer (scripts/room/ebpfcni-textfile.timer) or by hand; --stdout prints instead.`
  static examples = ['<%= config.bin %> fleet textfile', '<%= config.bin %> fleet textfile --stdout']
  static flags = {
    out: Flags.string({description: 'Where to write.', default: TEXTFILE_PATH}),
    stdout: Flags.boolean({description: 'Print the metrics instead of writing the file.'}),
    workspace: workspaceFlag,
  }
  protected requiresRoot = false

  async run(): Promise<void> {
    const {flags} = await this.parse(FleetTextfile)
    const workspace = workspaceDir(flags.workspace)
    const labs = workspaceStatus(workspace)
    const text = textfileMetrics(labs, {
      version: this.config.version,
      doctorOk: verdictOk(join(stateDir(), 'room', 'doctor.json')),
      smokeOk: verdictOk(join(stateDir(), 'room', 'smoke.json')),
    })
    if (flags.stdout) return void process.stdout.write(text)
    writeTextfile(flags.out, text)
    this.log(`${chalk.green('✔')} wrote ${flags.out}`)
  }
}
