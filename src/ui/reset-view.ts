import chalk from 'chalk'
import type {ResetAction} from '../reset/actions.js'

// What `reset` shows: the plan as a list, and what its dry run says.

/** One "  - …" line per action, then per workspace progress to forget (what a live run owns is not listed: keptLines). */
export const planLines = (actions: readonly ResetAction[], progress: readonly string[]): string[] => [
  ...actions.filter((a) => !a.heldBy).map((a) => `  - ${a.description}`),
  ...progress.map((p) => `  - forget progress of ${p}`),
]

/** What reset leaves because a live run owns it, and why ("  - remove … (in use by pid N: ebpfcni lab all)"), under a heading. */
export function keptLines(actions: readonly ResetAction[], heading: string): string[] {
  const kept = actions.filter((a) => a.heldBy).map((a) => `  - ${a.description} (${a.heldBy})`)
  return kept.length ? [heading, ...kept] : []
}

/** The closing advice when something stays: whose it is and how to free it. */
const keptNote = (actions: readonly ResetAction[]): string | undefined => {
  const runs = [
    ...new Set(
      actions.flatMap((a) => (a.heldBy ? [a.heldBy.replace(/^in use by pid (\d+): (.*)$/, 'pid $1 ($2)')] : [])),
    ),
  ]
  if (!runs.length) return undefined
  const one = runs.length === 1
  return `left alone: what ${runs.join(' and ')} made; ${one ? 'it removes that when it ends' : 'they remove that when they end'}. Once ${one ? 'it has' : 'they have'} ended, ebpfcni reset removes what ${one ? 'it' : 'they'} left.`
}

/** The dry run: what reset would do for `scope`, and the progress that stays (`kept`) when not asked to forget it. */
export function dryRunText(
  scope: string,
  actions: readonly ResetAction[],
  progress: readonly string[],
  keptProgress: readonly string[],
): string {
  const todo = actions.filter((a) => !a.heldBy)
  const lines =
    todo.length === 0 && progress.length === 0
      ? [`Nothing to remove for ${scope}.`]
      : [`reset would, for ${scope}:`, ...planLines(actions, progress)]
  lines.push(...keptLines(actions, `reset leaves, for ${scope}:`))
  if (keptProgress.length)
    lines.push(chalk.dim(`Your progress (${keptProgress.join('; ')}) stays; add --progress to forget it too.`))
  const note = keptNote(actions)
  if (note) lines.push(chalk.dim(note))
  return lines.join('\n')
}

/** The dry run as --json prints it: what reset would do, and what it leaves and why. */
export const dryRunJson = (scope: string, actions: readonly ResetAction[], progress: readonly string[]): object => ({
  dryRun: true,
  scope,
  actions: actions.filter((a) => !a.heldBy).map((a) => ({kind: a.kind, description: a.description})),
  kept: actions.filter((a) => a.heldBy).map((a) => ({kind: a.kind, description: a.description, why: a.heldBy})),
  progress,
})

/** After reset: "nothing to remove" when nothing was there to do, or whose objects stayed. */
export function closingLines(scope: string, actions: readonly ResetAction[], removed: number): string[] {
  const note = keptNote(actions)
  if (note) return [chalk.dim(note)]
  return removed === 0 ? [`Nothing to remove for ${scope}; the host is clean.`] : []
}

/** A line per action as reset performs it: ✔ done, ✘ with why, or – left with whose it is. */
export const actionLine = (a: ResetAction, error?: string): string =>
  a.heldBy
    ? `${chalk.yellow('–')} skipped: ${a.description} (${a.heldBy})`
    : error
      ? `${chalk.red('✘')} ${a.description}: ${error}`
      : `${chalk.green('✔')} ${a.description}`
