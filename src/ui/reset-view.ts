import chalk from 'chalk'
import type {ResetAction} from '../reset/actions.js'

// What `reset` shows: the plan as a list, and what its dry run says.

/** One "  - …" line per action, then per workspace progress to forget. */
export const planLines = (actions: readonly ResetAction[], progress: readonly string[]): string[] => [
  ...actions.map((a) => `  - ${a.description}`),
  ...progress.map((p) => `  - forget progress of ${p}`),
]

/** The dry run: what reset would do for `scope`, and the progress that stays (`kept`) when not asked to forget it. */
export function dryRunText(
  scope: string,
  actions: readonly ResetAction[],
  progress: readonly string[],
  kept: readonly string[],
): string {
  const lines =
    actions.length === 0 && progress.length === 0
      ? [`Nothing to remove for ${scope}.`]
      : [`reset would, for ${scope}:`, ...planLines(actions, progress)]
  if (kept.length) lines.push(chalk.dim(`Your progress (${kept.join('; ')}) stays; add --progress to forget it too.`))
  return lines.join('\n')
}

/** A line per action as reset performs it: ✔ done, or ✘ with why. */
export const actionLine = (a: ResetAction, error?: string): string =>
  error ? `${chalk.red('✘')} ${a.description}: ${error}` : `${chalk.green('✔')} ${a.description}`
