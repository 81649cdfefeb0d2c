import {Command, Flags, Errors, ux} from '#oclif'
import chalk from 'chalk'
import {UserError, EnvironmentError, asUserError} from '../host/errors.js'
import {installInterruptHandlers, whenInterrupted, INTERRUPTED_EXIT_CODE} from '../host/interrupt.js'
import {hintLine, nextStepText} from './next-steps.js'
import {sameAsLine} from './same-as.js'

/** Interactive only with a terminal on both ends and not in CI: otherwise never wait for input. */
export const interactive = (): boolean => Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI

/** Where a real bug gets reported (package.json "bugs"). */
export const BUGS_URL = 'https://github.com/ebpfcni/ebpfcni/issues'

/** DEBUG turns stack traces on, unless it says no (DEBUG=0, DEBUG=false). */
export const debugFromEnv = (v = process.env.DEBUG): boolean => Boolean(v) && !/^(0|false|no|off)$/i.test(v ?? '')

/** NO_COLOR (any non-empty value, as no-color.org says) or --no-color: no escape codes from ebpfcni. */
export function applyColorChoice(argv: string[], env = process.env): void {
  if ((env.NO_COLOR ?? '') !== '' || argv.includes('--no-color')) chalk.level = 0
}

/** A bug in ebpfcni itself (sysexits' EX_SOFTWARE): neither a usage error (2) nor a failed check (1). */
export const BUG_EXIT_CODE = 70

/**
 * Every ebpfcni command extends this: expected failures become one clear line on
 * stderr and an exit code (2 usage/environment, 1 a check failed, 70 a bug in ebpfcni); a stack
 * trace only with --debug or DEBUG set.
 */
export abstract class BaseCommand extends Command {
  static baseFlags = {
    debug: Flags.boolean({description: 'Show stack traces for errors.', helpGroup: 'GLOBAL'}),
    'no-color': Flags.boolean({description: 'No colours (as NO_COLOR=1 does).', helpGroup: 'GLOBAL'}),
  }

  /** Most commands create or read root-owned host state; the rest set this false. */
  protected requiresRoot = true
  /** What the command does that needs root, for the message when it runs without. */
  protected rootReason = 'it changes host state: network namespaces, links, BPF objects, /opt/cni/bin'

  async init(): Promise<void> {
    applyColorChoice(this.argv)
    await super.init()
    installInterruptHandlers(
      (line) => process.stderr.write(`${chalk.yellow(line)}\n`),
      nextStepText({do: 'reset'}, this.config.bin),
    )
    if (this.requiresRoot && process.getuid?.() !== 0) {
      throw new EnvironmentError(
        `ebpfcni ${this.id?.replace(/:/g, ' ') ?? ''} needs root: ${this.rootReason}.`,
        'run as root (sudo -i, then ebpfcni …); ebpfcni doctor checks the machine',
      )
    }
  }

  /**
   * --json's output. oclif colours it by the theme's `json` colours, tokenising the text with regular
   * expressions (a tenth of `status --json`'s start-up); ebpfcni sets no theme, so unless the user's
   * theme file has colours for JSON, the same text is written without tokenising.
   */
  logJson(json: unknown): void {
    if (this.config.theme?.json) return super.logJson(json)
    ux.stdout(JSON.stringify(json, null, 2) ?? '')
  }

  /** The plain commands this one stands for (ui/same-as.ts), dim on stderr; not with --json. */
  protected sameAs(lines: string[]): void {
    if (!this.jsonEnabled()) this.logToStderr(sameAsLine(lines))
  }

  /**
   * oclif's "Missing 1 required arg:\nlab  Lab number …\nSee more help with --help" as our own usage
   * error: what is missing, and the command's first example as the hint.
   */
  private missingArgs(err: Error): UserError | undefined {
    const args = (err as {args?: Array<{name?: unknown; description?: unknown}>}).args
    if (!Array.isArray(args) || args.length === 0 || !/^Missing \d+ required args?:/.test(err.message)) return undefined
    const command = `${this.config.bin} ${this.id?.replace(/:/g, ' ') ?? ''}`.trim()
    const what = args
      .map((a) => {
        const name = String(a.name).toUpperCase()
        const about = typeof a.description === 'string' ? a.description.replace(/\.$/, '') : ''
        return about ? `${name}: ${about.charAt(0).toLowerCase()}${about.slice(1)}` : name
      })
      .join('; ')
    const example = (this.constructor as typeof Command).examples?.find((e) => typeof e === 'string')
    return new UserError(`${command} needs ${what}`, {
      hint: example
        ? `for example: ${example.replaceAll('<%= config.bin %>', this.config.bin)} (${command} --help)`
        : `${command} --help`,
    })
  }

  protected debugOn(): boolean {
    return this.argv.includes('--debug') || debugFromEnv()
  }

  async catch(caught: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    // oclif's own exits keep oclif's handling.
    if (caught instanceof Errors.ExitError) throw caught
    // Ctrl-C at a prompt is the person leaving, not a failure: quiet, like any interrupted command.
    if (caught.name === 'ExitPromptError' || caught.name === 'AbortPromptError') {
      process.exitCode = INTERRUPTED_EXIT_CODE
      return
    }
    const err = this.missingArgs(caught) ?? caught
    const known = err instanceof UserError ? err : asUserError(err)
    // oclif wraps a flag's parse error in "Parsing --lab \n\t…\nSee more help with --help": ours say
    // what is wrong themselves, and the hint says where to look.
    const wrapped = known && /^Parsing (--\S+) \n\t([\s\S]*)\nSee more help with --help$/.exec(err.message)
    if (wrapped) err.message = `${wrapped[1]}: ${wrapped[2]}`
    const exitCode = known ? known.exitCode : err instanceof Errors.CLIError ? 2 : BUG_EXIT_CODE
    process.exitCode = exitCode
    if (this.jsonEnabled()) {
      this.logJson({
        error: {
          message: err.message,
          hint: known ? hintLine(known, this.config.bin) : undefined,
          kind: known ? 'user' : err instanceof Errors.CLIError ? 'usage' : 'bug',
          exitCode,
        },
      })
      return
    }
    process.stderr.write(`${chalk.red('error:')} ${err.message}\n`)
    const hint = known && hintLine(known, this.config.bin)
    if (hint) process.stderr.write(`${chalk.yellow('hint:')} ${hint}\n`)
    if (this.debugOn() && err.stack) process.stderr.write(`${chalk.dim(err.stack)}\n`)
    else if (!known && !(err instanceof Errors.CLIError)) {
      process.stderr.write(
        chalk.dim(
          `(this looks like a bug in ebpfcni: run again with --debug for the stack trace, and report it at ${BUGS_URL})\n`,
        ),
      )
    }
  }
}

/** Resolves on Ctrl-C, SIGTERM, or after `seconds` (long-running commands: watch, serve). */
export function untilStopped(seconds?: number): Promise<void> {
  return new Promise<void>((resolve) => {
    void whenInterrupted().then(resolve)
    if (seconds) setTimeout(resolve, seconds * 1000).unref()
  })
}
