import {Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../ui/base-command.js'
import {runConform} from '../conform/conform.js'
import {DEFAULT_CNI_PATH} from '../pods/service.js'
import {renderCheck} from '../ui/check-report.js'

export default class Conform extends BaseCommand {
  static summary = 'Run spec-level conformance checks against any CNI plugin or conflist.'
  static description =
    "VERSION, error results, ADD result schema, state matching the result, CHECK, DEL and its idempotence, and concurrent ADDs — each failure names the SPEC section it breaks. Works on any plugin: yours, or Debian's reference plugins (e.g. a bridge + host-local conflist with --cni-path /usr/lib/cni). It creates its own network namespaces and removes them; what the plugin itself leaves (a bridge) stays."
  static enableJsonFlag = true

  static examples = [
    '<%= config.bin %> conform --config /etc/cni/net.d/10-ebpfcni.conf',
    '<%= config.bin %> conform --config ./bridge.conflist --cni-path /usr/lib/cni --json',
  ]
  static flags = {
    config: Flags.string({char: 'c', description: 'Network config (.conf or .conflist).', required: true}),
    'cni-path': Flags.string({
      description: 'CNI_PATH: directories searched for plugins (colon-separated).',
      default: DEFAULT_CNI_PATH.join(':'),
    }),
    timeout: Flags.integer({description: 'Seconds each plugin call may take.', default: 10, min: 1}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(Conform)
    const report = await runConform({
      configFile: flags.config,
      cniPath: flags['cni-path'].split(':').filter(Boolean),
      timeoutMs: flags.timeout * 1000,
      onCheck: (r) => this.log(renderCheck(r)),
    })
    {
      const failed = report.checks.filter((c) => c.status === 'fail').length
      this.log(
        report.passed
          ? chalk.green(
              `\n✔ ${report.network} (${report.plugins.join(' → ')}) conforms on every check (${(report.durationMs / 1000).toFixed(1)} s)`,
            )
          : chalk.red(`\n✘ ${report.network}: ${failed} check(s) break the spec`),
      )
    }
    if (!report.passed) process.exitCode = 1
    return report
  }
}
