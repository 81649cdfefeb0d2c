import type {Hook} from '#oclif'
import {toConfiguredId} from '#oclif'

// A mistyped command: name the closest ones and exit 2 (a usage error), never prompt, so scripts
// and CI see the same as a person does.

/** Edit distance between two command ids (insertions, deletions, substitutions). */
export function distance(a: string, b: string): number {
  const row = Array.from({length: b.length + 1}, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const keep = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = keep
    }
  }
  return row[b.length]
}

/** The commands within a few edits of what was typed, closest first. */
export function closestCommands(typed: string, ids: string[]): string[] {
  const scored = ids
    .map((id) => ({id, d: distance(typed, id)}))
    .filter((x) => x.d <= Math.max(2, Math.floor(typed.length / 3)))
  return scored
    .sort((x, y) => x.d - y.d || x.id.localeCompare(y.id))
    .slice(0, 3)
    .map((x) => x.id)
}

/**
 * A command run together with its argument ("lab1", "check2"): the command and the argument apart,
 * as it was meant ("lab 1").
 */
export function splitArgument(typed: string, ids: string[]): string | undefined {
  const m = typed.match(/^(.*?[a-z])[-_]?(\d+)$/)
  return m && ids.includes(m[1]) ? `${m[1]} ${m[2]}` : undefined
}

const hook: Hook<'command_not_found'> = async function (opts) {
  const ids = opts.config.commands.filter((c) => !c.hidden).map((c) => c.id)
  const typed = toConfiguredId(opts.id, opts.config)
  // "chek 1" arrives as the id "chek:1": the words after a command are its arguments, so try each prefix.
  const parts = opts.id.split(':')
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join(':'))
  const split = parts.length === 1 ? splitArgument(opts.id, ids) : undefined
  const near = [...new Set([...(split ? [split] : []), ...prefixes.flatMap((p) => closestCommands(p, ids))])]
    .slice(0, split ? 1 : 3)
    .map((id) => `${opts.config.bin} ${toConfiguredId(id, opts.config)}`)
  process.stderr.write(
    `error: "${typed}" is not an ${opts.config.bin} command.${near.length ? ` Did you mean: ${near.join(', ')}?` : ''}\n`,
  )
  process.stderr.write(`hint: ${opts.config.bin} --help lists the commands\n`)
  process.exit(2)
}

export default hook
