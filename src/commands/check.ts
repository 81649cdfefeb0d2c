import {Flags} from '#oclif'
import {BaseCommand} from '../ui/base-command.js'
import {getLab, getStep} from '../labs/catalogue.js'
import {LabSession} from '../labs/session.js'
import {workspaceDir} from '../host/paths.js'
import {renderCheck, renderEarlierStepFails, renderSummary, wholeLabRenderer} from '../ui/check-report.js'
import {labArg, stepFlag, workspaceFlag} from '../ui/common-flags.js'
import {renderFocus} from '../ui/focus-line.js'
import type {CheckReport} from '../checks/engine.js'

export default class Check extends BaseCommand {
  static summary = 'Check a lab (or one step): install your files, run real pods through them.'
  static description =
    "Installs ~/ebpfcni-lab/ebpfcni to /opt/cni/bin and 10-ebpfcni.conf to /etc/cni/net.d, then runs the lab's checks through the real CNI path. Each failing check says what it saw, what it expected, and a hint. Everything the checks create is removed afterwards. --runtime names the pod runtime to prove: with podman or cri, that runtime's check (runtime.podman, runtime.cri) must run and pass, and from lab 2 on cri also runs the traffic checks' pods through containerd. Exit 0 when all pass, 1 when a check fails (a stretch step's too: the line after the summary says when only optional steps fail), 2 on usage errors."
  static enableJsonFlag = true

  static examples = [
    '<%= config.bin %> check 1',
    '<%= config.bin %> check 1 --step skeleton',
    '<%= config.bin %> check 1 --json',
    '<%= config.bin %> check 1 --runtime podman',
    '<%= config.bin %> check 1 --step production --runtime cri',
  ]
  static args = {lab: labArg({required: true})}
  static flags = {
    step: stepFlag,
    runtime: Flags.string({
      description: 'The pod runtime to prove (see the description).',
      options: ['netns', 'podman', 'cri'],
      default: 'netns',
    }),
    workspace: workspaceFlag,
  }

  async run(): Promise<CheckReport> {
    const {args, flags} = await this.parse(Check)
    const session = new LabSession(getLab(args.lab), workspaceDir(flags.workspace))
    const step = getStep(session.lab, flags.step)
    const whole = step ? undefined : wholeLabRenderer(session.lab)
    const report = await session.checkAll({
      step,
      runtime: flags.runtime as 'netns' | 'podman' | 'cri',
      onCheck: (_id, _title, result) => result && this.log(whole ? whole.render(result) : renderCheck(result)),
    })
    this.log(`\n${renderSummary(report, [], session.lab)}`)
    const earlier = renderEarlierStepFails(report)
    if (earlier) this.log(earlier)
    const focus = whole?.focus()
    if (focus) this.log(renderFocus(session.lab, report, focus))
    if (!report.passed) process.exitCode = 1
    return report
  }
}
