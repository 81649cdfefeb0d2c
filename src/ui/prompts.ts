import select from '@inquirer/select'
import confirm from '@inquirer/confirm'
import chalk from 'chalk'

// The guided mode's questions (@inquirer) as the rest of ebpfcni draws: in chalk's colours, so
// --no-color reaches them as NO_COLOR does, and Esc leaves a menu, as its prompt says.

/** @inquirer's default theme drawn with chalk (read when asked: after --no-color set chalk's level). */
export function promptTheme() {
  return {
    prefix: {idle: chalk.blue('?'), done: chalk.green('✔')},
    spinner: {interval: 80, frames: ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'].map((f) => chalk.yellow(f))},
    style: {
      answer: (t: string) => chalk.cyan(t),
      message: (t: string) => chalk.bold(t),
      error: (t: string) => chalk.red(`> ${t}`),
      defaultAnswer: (t: string) => chalk.dim(`(${t})`),
      help: (t: string) => chalk.dim(t),
      highlight: (t: string) => chalk.cyan(t),
      key: (t: string) => chalk.cyan.bold(`<${t}>`),
      description: (t: string) => chalk.cyan(t),
      disabled: (t: string) => chalk.dim(`- ${t}`),
      keysHelpTip: (keys: [string, string][]) =>
        keys.map(([key, action]) => `${chalk.bold(key)} ${chalk.dim(action)}`).join(chalk.dim(' • ')),
    },
  }
}

/** @inquirer's context: read again when the prompt ends, so Esc can ask for the prompt to be cleared. */
type Context = {signal: AbortSignal; clearPromptOnDone?: boolean}

/**
 * Resolves `ask` with the answer, or `onEsc` when the person pressed Esc (a lone Escape key): the
 * prompt is then cleared from the screen (it would show the cursor moved by the key).
 */
async function leavingOnEsc<T>(ask: (context: Context) => Promise<T>, onEsc: T): Promise<T> {
  const esc = new AbortController()
  const context: Context = {signal: esc.signal}
  const onKey = (_: unknown, key?: {name?: string}) => {
    if (key?.name !== 'escape') return
    context.clearPromptOnDone = true
    esc.abort()
  }
  // @inquirer's readline makes stdin emit keypress events; arrow keys arrive as up/down, not escape.
  process.stdin.on('keypress', onKey)
  try {
    return await ask(context)
  } catch (err) {
    if (esc.signal.aborted && (err as Error).name === 'AbortPromptError') return onEsc
    throw err
  } finally {
    process.stdin.off('keypress', onKey)
  }
}

export interface MenuChoice<T> {
  name: string
  value: T
}

/**
 * A menu: every choice on screen (no hidden page), the cursor on `default`; Esc leaves it
 * (undefined), as the question says while it is asked. Ctrl-C still interrupts (exit 130).
 */
export function menu<T>(opts: {message: string; choices: MenuChoice<T>[]; default?: T}): Promise<T | undefined> {
  const theme = promptTheme()
  const message = (text: string, status?: string) =>
    status === 'done' ? chalk.bold(text) : chalk.bold(text) + chalk.dim('  (Esc leaves)')
  return leavingOnEsc<T | undefined>(
    (context) =>
      select<T>(
        {
          message: opts.message,
          choices: opts.choices,
          default: opts.default,
          pageSize: opts.choices.length,
          theme: {...theme, style: {...theme.style, message}},
        },
        context,
      ),
    undefined,
  )
}

/** A yes/no question; Esc answers no. */
export function ask(message: string, byDefault: boolean): Promise<boolean> {
  return leavingOnEsc((context) => confirm({message, default: byDefault, theme: promptTheme()}, context), false)
}
