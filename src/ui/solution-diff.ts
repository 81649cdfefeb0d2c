import chalk from 'chalk'
import type {SolutionDiff} from '../labs/solution-diff.js'

/** Diffs in colour: added lines green, removed red; a file that matches says so. */
export const renderSolutionDiffs = (diffs: SolutionDiff[]): string =>
  diffs
    .map((d) =>
      d.matches
        ? chalk.green(`${d.file}: already matches the solution`)
        : (d.diff ?? '')
            .split('\n')
            .map((l) => (l.startsWith('+') ? chalk.green(l) : l.startsWith('-') ? chalk.red(l) : l))
            .join('\n'),
    )
    .join('\n')
