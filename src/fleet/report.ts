import type {HostList, FleetHost} from './hosts.js'
import {rowFromStatus, type AttendeeRow, type LabView, type StuckRule} from './attendee.js'
import {hostDown, mapBounded, runOnHost, type FleetOptions, type HostRun} from './ssh.js'

// `fleet report`: every attendee VM's progress, asked over SSH (`ebpfcni status --json` there).
// A host that does not answer is a row that says why; the other hosts go on.

const isLabs = (v: unknown): v is {labs: LabView[]} =>
  typeof v === 'object' && v !== null && Array.isArray((v as {labs?: unknown}).labs)

/** A row for a host-list line that was not a host. */
export const badLineRows = (list: HostList): AttendeeRow[] =>
  list.problems.map((p) => ({host: `line ${p.line}: ${p.text}`, state: 'bad-line', message: p.message, stuck: false}))

export async function reportFleet(
  hosts: readonly FleetHost[],
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
