import {Args, Flags} from '#oclif'
import {loadLabs} from '../labs/catalogue.js'
import {UserError} from '../host/errors.js'

// The arguments and flags several commands share, declared once so they mean one thing everywhere:
// LAB is positional and checked against the catalogue, -s is the step, -w the workspace.

/** A lab number from the catalogue, or undefined. */
function catalogueLab(input: string): number | undefined {
  const n = Number(input)
  return Number.isInteger(n) && loadLabs().some((l) => l.id === n) ? n : undefined
}

const noSuchLab = (input: string): UserError =>
  new UserError(`there is no lab "${input}"`, {
    hint: `the labs are ${loadLabs()
      .map((l) => l.id)
      .join(', ')} (ebpfcni lab lists them)`,
  })

/** LAB: a lab number from the catalogue (not a hard-coded range). */
export const labArg = Args.custom<number>({
  ignoreStdin: true,
  description: 'Lab number (see `ebpfcni lab` for the list).',
  parse: async (input, context) => {
    const n = catalogueLab(input)
    if (n === undefined) {
      // oclif parses the arguments before it reports an unknown flag: in `reset --workspace X`, X
      // arrives here as LAB, and the flag is the mistake to name.
      const unknown = unknownFlagBefore(context as unknown as ParseContext, input)
      if (unknown) throw unknown
      throw noSuchLab(input)
    }
    return n
  },
})

/** --lab N: the positional LAB as a flag, checked against the catalogue as LAB is. */
export const labFlag = Flags.custom<number>({
  helpValue: '<lab>',
  parse: async (input) => catalogueLab(input) ?? Promise.reject(noSuchLab(input)),
})

interface FlagShape {
  char?: string
  aliases?: string[]
  charAliases?: string[]
  allowNo?: boolean
}
interface ParseContext {
  argv?: string[]
  id?: string
  ctor?: {flags?: Record<string, FlagShape>; baseFlags?: Record<string, FlagShape>; enableJsonFlag?: boolean}
}

/** The error for an unknown flag just before `input` on the command line (its value, taken for LAB). */
function unknownFlagBefore(ctx: ParseContext | undefined, input: string): UserError | undefined {
  const argv = ctx?.argv ?? []
  const prev = argv[argv.indexOf(input) - 1]
  if (!prev?.startsWith('-') || prev === '-' || prev === '--' || prev.includes('=')) return undefined
  const flags = {
    ...ctx?.ctor?.baseFlags,
    ...ctx?.ctor?.flags,
    ...(ctx?.ctor?.enableJsonFlag ? {json: {} as FlagShape} : {}),
  }
  const known = new Set<string>()
  for (const [name, f] of Object.entries(flags)) {
    for (const n of [name, ...(f.aliases ?? [])]) known.add(`--${n}`)
    if (f.allowNo) known.add(`--no-${name}`)
    for (const c of [f.char, ...(f.charAliases ?? [])]) if (c) known.add(`-${c}`)
  }
  if (known.has(prev)) return undefined
  const command = `ebpfcni ${ctx?.id?.replace(/:/g, ' ') ?? ''}`.trim()
  const names = Object.keys(flags)
    .filter((n) => !['debug', 'no-color', 'json'].includes(n))
    .map((n) => `--${n}`)
  return new UserError(`${command} has no flag ${prev}`, {
    hint: `its flags are ${names.join(', ')} (${command} --help)`,
  })
}

export const stepFlag = Flags.string({char: 's', description: 'Step id or number (see `ebpfcni status`).'})

export const workspaceFlag = Flags.string({
  char: 'w',
  description: 'Your workspace directory (default ~/ebpfcni-lab).',
  env: 'EBPFCNI_WORKSPACE',
})

export const yesFlag = Flags.boolean({
  char: 'y',
  description: 'Never ask: take the default answer (needed without a terminal).',
})
