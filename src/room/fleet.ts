import type {HostList, RoomHost} from './hosts.js'
import {rowFromStatus, type AttendeeRow, type LabView, type StuckRule} from './attendee.js'
import {hostDown, mapBounded, runOnHost, type HostRun, type SshOptions} from './ssh.js'

// What the instructor's machine asks of every attendee VM, over SSH: their progress (`fleet
// report`) and, after the session, a reset proven clean (`fleet reset`). A host that does not
// answer is a row that says why; the other hosts go on.

export interface FleetOptions extends SshOptions {
  concurrency: number
  /** The ebpfcni command on the VMs (setup links it into /usr/local/bin). */
  remoteCommand: string
}

const isLabs = (v: unknown): v is {labs: LabView[]} =>
  typeof v === 'object' && v !== null && Array.isArray((v as {labs?: unknown}).labs)

/** A row for a host-list line that was not a host. */
export const badLineRows = (list: HostList): AttendeeRow[] =>
  list.problems.map((p) => ({host: `line ${p.line}: ${p.text}`, state: 'bad-line', message: p.message, stuck: false}))

export async function reportRoom(
  hosts: readonly RoomHost[],
  o: FleetOptions,
  rule: StuckRule,
  onRow?: (row: AttendeeRow, done: number) => void,
): Promise<AttendeeRow[]> {
  return mapBounded(
    hosts,
    o.concurrency,
    async (host) => attendeeRow(await runOnHost(host, [o.remoteCommand, 'status', '--json'], o), rule),
    onRow,
  )
}

function attendeeRow(r: HostRun, rule: StuckRule): AttendeeRow {
  const host = r.host.name
  if (!r.ok)
    return {
      host,
      state: hostDown(r) ? 'down' : 'error',
      message: r.message,
      stuck: false,
    }
  let doc: unknown
  try {
    doc = JSON.parse(r.stdout)
  } catch {
    return {
      host,
      state: 'error',
      message: `answered with something that is not status JSON: "${r.stdout.trim().slice(0, 60)}"`,
      stuck: false,
    }
  }
  if (!isLabs(doc))
    return {host, state: 'error', message: 'status --json there has no labs (an old ebpfcni?)', stuck: false}
  return rowFromStatus(host, doc.labs, rule)
}

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
}

const parse = <T>(text: string): T | undefined => {
  try {
    return JSON.parse(text) as T
  } catch {
    return undefined
  }
}

export async function resetRoom(
  hosts: readonly RoomHost[],
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
      const left = plan.actions.map((a) => a.description ?? '?')
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
