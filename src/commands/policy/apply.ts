import {Args} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PolicyService} from '../../policy/service.js'
import {pinDirFlag, policyFile, toPodAttached} from '../../ui/policy-flags.js'
import {workspaceFlag} from '../../ui/common-flags.js'
import {staleLoadWarning} from '../../ui/stale-load.js'

export default class PolicyApply extends BaseCommand {
  static summary = 'Apply a Kubernetes NetworkPolicy file (networking.k8s.io/v1) to the pods.'
  static description = `Supported: spec.podSelector.matchLabels (selected pods become default-deny for ingress), spec.ingress[].from[].podSelector.matchLabels (who may reach them), spec.ingress[].ports (TCP/UDP, numeric), policyTypes [Ingress]. Refused, with the field named: egress, ipBlock, namespaceSelector, named ports, endPort, matchExpressions. The file is validated whole before anything is written; a relative FILE not found here is taken from your workspace (-w), saying so. Pods added later: run ebpfcni policy watch.`
  static examples = ['<%= config.bin %> policy apply ~/ebpfcni-lab/policy.yaml']
  static enableJsonFlag = true
  static args = {file: Args.string({ignoreStdin: true, description: 'NetworkPolicy YAML file.', required: true})}
  static flags = {...pinDirFlag, workspace: workspaceFlag}

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicyApply)
    // The step text says `policy apply policy.yaml`: outside the workspace, take the workspace's.
    const file = policyFile(args.file, flags.workspace)
    if (file.note) this.logToStderr(chalk.dim(file.note))
    const r = await new PolicyService({pinDir: flags['pin-dir']}).apply(file.path)
    this.log(
      `${chalk.green('✔')} applied NetworkPolicy ${chalk.bold(r.spec.name)} (${r.mode} design; ${r.written} written, ${r.removed} removed)`,
    )
    this.log(toPodAttached(r))
    const stale = staleLoadWarning(flags['pin-dir'])
    if (stale) this.logToStderr(stale)
    for (const u of r.unmatched) this.logToStderr(`${chalk.yellow('warning:')} ${u}`)
    if (r.unmatched.length)
      this.logToStderr(
        chalk.dim(
          'pods are matched when the policy is applied: check the labels (ebpfcni pod list), or run ebpfcni policy watch to follow pods made later',
        ),
      )
    return r
  }
}
