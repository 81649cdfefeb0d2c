import {Command, Flags, Errors} from '@oclif/core'
import chalk from 'chalk'
import {UserError, EnvironmentError} from '../host/errors.js'
import {installInterruptHandlers, whenInterrupted, INTERRUPTED_EXIT_CODE} from '../host/interrupt.js'

/** Interactive only with a terminal on both ends and not in CI: otherwise never wait for input. */
export const interactive = (): boolean => Boolean(process.stdin.isTTY && process.stdout.isTTY) && !process.env.CI

/**
 * Every ebpfcni command extends this: expected failures become one clear line on
 * stderr and an exit code (2 usage/environment, 1 a check failed); a stack trace
 * only with --debug or DEBUG set.
 */
export abstract class BaseCommand extends Command {
  static baseFlags = {
    debug: Flags.boolean({description: 'Show stack traces for errors.', helpGroup: 'GLOBAL'}),
  }

  /** Most commands create or read root-owned host state. */
  protected requiresRoot = true

  async init(): Promise<void> {
    await super.init()
    installInterruptHandlers((line) => process.stderr.write(`${chalk.yellow(line)}\n`))
    if (this.requiresRoot && process.getuid?.() !== 0) {
      throw new EnvironmentError('ebpfcni needs root to create network namespaces, links and BPF objects.', 'run as root (sudo ebpfcni …), or check the machine with: ebpfcni doctor')
    }
  }

  protected debugOn(): boolean {
    return this.argv.includes('--debug') || Boolean(process.env.DEBUG)
  }

  async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    // oclif's own exits and parse errors keep oclif's handling (usage errors exit 2).
    if (err instanceof Errors.ExitError) throw err
    // Ctrl-C at a prompt is the person leaving, not a failure: quiet, like any interrupted command.
    if (err.name === 'ExitPromptError' || err.name === 'AbortPromptError') {
      process.exitCode = INTERRUPTED_EXIT_CODE
      return
    }
    if (err instanceof Errors.CLIError && !(err instanceof UserError)) {
      process.stderr.write(`${chalk.red('error:')} ${err.message}\n`)
      process.exitCode = 2
      return
    }
    if (err instanceof UserError) {
      process.stderr.write(`${chalk.red('error:')} ${err.message}\n`)
      if (err.hint) process.stderr.write(`${chalk.yellow('hint:')} ${err.hint}\n`)
      if (this.debugOn() && err.stack) process.stderr.write(`${chalk.dim(err.stack)}\n`)
      process.exitCode = err.exitCode
      return
    }
    process.stderr.write(`${chalk.red('error:')} ${err.message}\n`)
    if (this.debugOn()) process.stderr.write(`${chalk.dim(err.stack ?? '')}\n`)
    else process.stderr.write(chalk.dim('(an unexpected error; run again with --debug for the stack trace, and please report it)\n'))
    process.exitCode = 2
  }
}

/** Resolves on Ctrl-C, SIGTERM, or after `seconds` (long-running commands: watch, serve). */
export function untilStopped(seconds?: number): Promise<void> {
  return new Promise<void>((resolve) => {
    void whenInterrupted().then(resolve)
    if (seconds) setTimeout(resolve, seconds * 1000).unref()
  })
}
