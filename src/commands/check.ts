import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../ui/base-command.js'
import {runChecks} from '../labs/checker.js'
import {workspaceDir} from '../host/paths.js'
import {renderCheck, renderSummary} from '../ui/check-report.js'
import {json} from '../ui/render.js'

export default class Check extends BaseCommand {
  static summary = "Check your work for a lab (or one step): installs your files and runs real pods through them."
  static description = `Installs ~/ebpfcni-lab/ebpfcni to /opt/cni/bin and 10-ebpfcni.conf to /etc/cni/net.d, then runs the
lab's checks through the real CNI path. Each failing check says what it saw, what it expected, and a hint.
Everything the checks create is removed afterwards. Exit 0 when all pass, 1 when a check fails, 2 on usage errors.`

  static examples = ['<%= config.bin %> check 1', '<%= config.bin %> check 1 --step skeleton', '<%= config.bin %> check 1 --json', '<%= config.bin %> check 1 --runtime podman', '<%= config.bin %> check 1 --step production --runtime cri']
  static args = {lab: Args.integer({description: 'Lab number.', required: true, min: 1, max: 4})}
  static flags = {
    step: Flags.string({char: 's', description: 'Only this step\'s checks (id or number).'}),
    json: Flags.boolean({description: 'Print one JSON object (lab, step, passed, durationMs, checks).'}),
    runtime: Flags.string({description: 'Require this pod runtime too: podman makes runtime.podman mandatory, cri makes runtime.cri mandatory (otherwise each is skipped when its runtime is not installed).', options: ['netns', 'podman', 'cri'], default: 'netns'}),
    workspace: Flags.string({char: 'w', description: 'Your workspace directory.', env: 'EBPFCNI_WORKSPACE'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Check)
    const report = await runChecks({
      lab: args.lab,
      step: flags.step,
      workspace: workspaceDir(flags.workspace),
      runtime: flags.runtime as 'netns' | 'podman' | 'cri',
      onCheck: flags.json ? undefined : (_id, _title, result) => result && this.log(renderCheck(result)),
    })
    if (flags.json) this.log(json(report))
    else this.log(`\n${renderSummary(report)}`)
    if (!report.passed) process.exitCode = 1
  }
}
