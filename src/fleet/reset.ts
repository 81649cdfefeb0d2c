import type {FleetHost} from './hosts.js'
import {hostDown, mapBounded, runOnHost, type FleetOptions} from './ssh.js'

// `fleet reset`: after the session, `ebpfcni reset --all` on every attendee VM over SSH, proven
// clean by a dry run afterwards. A host that does not answer is a row that says why; the other
// hosts go on.

export interface ResetRow {
  host: string
  /** clean: reset ran and the dry run afterwards finds nothing; dirty: something stayed. */
  state: 'clean' | 'dirty' | 'down' | 'error'
  removed?: number
  left?: string[]
  message?: string
}

interface ResetJson {
  done?: unknown[]
  failed?: unknown[]
}
interface DryRunJson {
  actions?: Array<{description?: string}>
  /** What reset leaves to a run of ebpfcni still going on that host, and why. */
  kept?: Array<{description?: string; why?: string}>
}

const parse = <T>(text: string): T | undefined => {
  try {
    return JSON.parse(text) as T
  } catch {
    return undefined
  }
}

export async function resetFleet(
  hosts: readonly FleetHost[],
  o: FleetOptions & {forgetProgress: boolean},
  onRow?: (row: ResetRow, done: number) => void,
): Promise<ResetRow[]> {
  return mapBounded(
    hosts,
    o.concurrency,
    async (host): Promise<ResetRow> => {
      const name = host.name
      const reset = await runOnHost(
        host,
        [o.remoteCommand, 'reset', '--all', '--yes', '--json', ...(o.forgetProgress ? ['--progress'] : [])],
        o,
      )
      const outcome = parse<ResetJson>(reset.stdout)
      if (!reset.ok && !outcome) {
        return {host: name, state: hostDown(reset) ? 'down' : 'error', message: reset.message}
      }
      // Proof, not the reset's word for it: what would a reset remove now?
      const dry = await runOnHost(host, [o.remoteCommand, 'reset', '--all', '--dry-run', '--json'], o)
      const plan = parse<DryRunJson>(dry.stdout)
      if (!dry.ok || !plan || !Array.isArray(plan.actions))
        return {
          host: name,
          state: 'error',
          removed: outcome?.done?.length,
          message: `the dry run afterwards: ${dry.message || 'no JSON'}`,
        }
      // A live run's objects are still on the host: not clean, and the row says whose they are.
      const left = [
        ...plan.actions.map((a) => a.description ?? '?'),
        ...(plan.kept ?? []).map((k) => `${k.description ?? '?'} (${k.why ?? 'in use'})`),
      ]
      return {
        host: name,
        state: left.length ? 'dirty' : 'clean',
        removed: outcome?.done?.length ?? 0,
        left,
        ...(reset.ok ? {} : {message: reset.message}),
      }
    },
    onRow,
  )
}
