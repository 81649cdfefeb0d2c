import {Args, Flags} from '#oclif'
import {loadLabs} from '../labs/catalogue.js'
import {UserError} from '../host/errors.js'

// The arguments and flags several commands share, declared once so they mean one thing everywhere:
// LAB is positional and checked against the catalogue, -s is the step, -w the workspace.

/** LAB: a lab number from the catalogue (not a hard-coded range). */
export const labArg = Args.custom<number>({
  ignoreStdin: true,
  description: 'Lab number (see `ebpfcni lab` for the list).',
  parse: async (input) => {
    const ids = loadLabs().map((l) => l.id)
    const n = Number(input)
    if (!Number.isInteger(n) || !ids.includes(n))
      throw new UserError(`there is no lab "${input}"`, {
        hint: `the labs are ${ids.join(', ')} (ebpfcni lab lists them)`,
      })
    return n
  },
})

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
