import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {resolve} from 'node:path'
import {BaseCommand} from '../ui/base-command.js'
import {exportLabs, PLATFORMS, type Platform} from '../labs/export.js'
import {exportKubernetes, labAgents} from '../labs/export-kubernetes.js'
import {workspaceStatus} from '../labs/session.js'
import {workspaceDir} from '../host/paths.js'
import {workspaceFlag} from '../ui/common-flags.js'

export default class Export extends BaseCommand {
  static summary = 'Write the labs for Instruqt or Killercoda, or your work for a real cluster.'
  static description =
    "Instruqt: a track with one challenge per step (assignment.md, check-workstation, setup-workstation). Killercoda: a scenario per lab (index.json, each step's text.md and verify.sh). Every check script runs the step's real checks (ebpfcni check N --step S --json) on the VM, exits 0 only when they pass, and on failure prints FAIL: with the first failing check's message and hint (Instruqt's fail-message too). The VM needs ebpfcni set up (scripts/setup.sh). kubernetes: your workspace (plugin, config, built program) as manifests for a real cluster: a ConfigMap with the files and a DaemonSet whose init container installs the plugin and config on every node and loads the program, and, once lab 4's networkpolicy step is done (or with --policy-controller), lab 4's NetworkPolicy controller as a container of that DaemonSet with the RBAC to list NetworkPolicies, the node agent of each lab that has one, once the step it runs is done (or with --agents), as another container (ebpfcni agent N) with its files in a ConfigMap of its own and the RBAC to list what it reads, plus the Dockerfile of the image and a README (docs/kubernetes.md walks through a kind cluster). DIR must be new or empty."
  static examples = [
    '<%= config.bin %> export killercoda ./scenarios',
    '<%= config.bin %> export instruqt ./track --lab 1 --lab 2',
    '<%= config.bin %> export kubernetes ./k8s',
  ]
  static enableJsonFlag = true
  static args = {
    platform: Args.string({
      ignoreStdin: true,
      required: true,
      options: [...PLATFORMS, 'kubernetes'],
      description: 'instruqt, killercoda (the labs for a training platform) or kubernetes (your work as manifests)',
    }),
    dir: Args.string({ignoreStdin: true, required: true, description: 'Where to write it (new or empty).'}),
  }
  static flags = {
    lab: Flags.integer({description: 'Only this lab (repeatable; instruqt and killercoda).', multiple: true, min: 1}),
    workspace: workspaceFlag,
    'policy-controller': Flags.boolean({
      allowNo: true,
      description:
        "kubernetes: add lab 4's NetworkPolicy controller on every node (default: once lab 4's networkpolicy step is done).",
    }),
    agents: Flags.boolean({
      allowNo: true,
      description: "kubernetes: add the labs' node agents on every node (default: each once the step it runs is done).",
    }),
  }

  async run(): Promise<{platform: string; dir: string; files: string[]}> {
    const {args, flags} = await this.parse(Export)
    const dir = resolve(args.dir)
    if (args.platform === 'kubernetes') {
      const workspace = workspaceDir(flags.workspace)
      const policyController =
        flags['policy-controller'] ??
        Boolean(
          workspaceStatus(workspace)
            .find((l) => l.lab === 4)
            ?.steps.find((st) => st.id === 'networkpolicy')?.done,
        )
      const agents = await labAgents(workspace, flags.agents)
      const files = exportKubernetes(workspace, dir, {policyController, agents})
      const withs = [
        ...(policyController ? ["lab 4's policy controller"] : []),
        ...agents.map((a) => `lab ${a.lab}'s node agent`),
      ]
      const withWhat = withs.length ? ` (with ${withs.join(' and ')})` : ''
      this.log(`${chalk.green('✔')} ${files.join(', ')} in ${dir}${withWhat}; next: ${dir}/README.md`)
      return {platform: args.platform, dir, files}
    }
    const files = exportLabs(args.platform as Platform, dir, flags.lab)
    this.log(`${chalk.green('✔')} ${files.length} files for ${args.platform} in ${dir}`)
    return {platform: args.platform as Platform, dir, files}
  }
}
