import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {PodService} from '../../pods/service.js'
import {httpGet, ping, tcpConnect} from '../../net/probes.js'
import {UserError} from '../../host/errors.js'
import {plainCommands} from '../../ui/same-as.js'
import {isIPv4} from 'node:net'
import {BPF_PIN_ROOT} from '../../host/paths.js'
import {staleLoadWarning} from '../../ui/stale-load.js'

export default class PodProbe extends BaseCommand {
  static summary = 'Probe pod-to-pod traffic: HTTP GET (default), TCP connect, or ICMP ping.'
  static enableJsonFlag = true
  static examples = [
    '<%= config.bin %> pod probe sleep httpbin',
    '<%= config.bin %> pod probe sleep httpbin --icmp',
    '<%= config.bin %> pod probe a 10.10.0.1 --icmp',
  ]
  static args = {
    from: Args.string({ignoreStdin: true, description: 'Pod that sends.', required: true}),
    to: Args.string({ignoreStdin: true, description: 'Pod name or IP that receives.', required: true}),
  }

  static flags = {
    port: Flags.integer({description: 'Port for HTTP/TCP.', default: 80}),
    icmp: Flags.boolean({description: 'Ping instead of HTTP.', exclusive: ['tcp']}),
    tcp: Flags.boolean({description: 'TCP connect only.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PodProbe)
    const pods = new PodService()
    const from = pods.get(args.from)
    const toIp = isIPv4(args.to) ? args.to : pods.get(args.to).ip
    if (!toIp) throw new UserError(`pod ${args.to} has no IPv4 address`)
    const r = flags.icmp
      ? await ping(from.netnsPath, toIp)
      : flags.tcp
        ? await tcpConnect(from.netnsPath, toIp, flags.port)
        : await httpGet(from.netnsPath, `http://${toIp}:${flags.port}/get`)
    this.log(
      `${r.ok ? chalk.green('✔') : chalk.red('✘')} ${args.from} → ${args.to} (${toIp}): ${r.detail} ${chalk.dim(`${Math.round(r.durationMs)} ms`)}`,
    )
    this.sameAs(
      plainCommands.inPod(
        from.netnsPath,
        flags.icmp
          ? ['ping', '-c', '1', toIp]
          : flags.tcp
            ? ['bash', '-c', `'exec 3<>/dev/tcp/${toIp}/${flags.port}'`]
            : ['busybox', 'wget', '-q', '-O', '-', `http://${toIp}:${flags.port}/get`],
      ),
    )
    // Passing or failing, a verdict of programs older than the source misleads (walked): say so.
    const stale = staleLoadWarning(BPF_PIN_ROOT)
    if (stale) this.logToStderr(stale)
    if (!r.ok) process.exitCode = 1
    return {
      from: args.from,
      to: args.to,
      ip: toIp,
      kind: flags.icmp ? 'icmp' : flags.tcp ? 'tcp' : 'http',
      ok: r.ok,
      detail: r.detail,
      durationMs: Math.round(r.durationMs),
    }
  }
}
