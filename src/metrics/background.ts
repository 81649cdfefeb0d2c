import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {startRecordedProcess, stopOwnedProcesses} from '../host/background.js'
import {processOwner} from '../host/owners.js'
import {packageRoot} from '../host/paths.js'
import {UserError} from '../host/errors.js'

// `ebpfcni metrics --background`: the exporter as a recorded process (reset stops it),
// as the original workshop ran its exporter beside the Prometheus server.

const OWNER = processOwner('metrics-exporter')
/** What ledgers written before owner namespaces call it. */
const LEGACY_OWNER = 'metrics-exporter'

export const startExporterProcess = (cliBin: string, args: string[], opts: {ledger?: Ledger; lab?: number} = {}) =>
  startRecordedProcess({
    ledger: opts.ledger ?? new Ledger(),
    owner: OWNER,
    lab: opts.lab,
    name: 'metrics exporter',
    logName: 'metrics-exporter.log',
    file: process.execPath,
    args: [cliBin, 'metrics', ...args],
  })

/** `metrics --background`: this CLI's exporter on host:port over `map`, as lab 3's process; a port taken is a UserError. */
export const startBackgroundExporter = (opts: {host: string; port: number; map: string; compat: boolean}) =>
  startExporterProcess(
    join(packageRoot(), 'bin', 'run.js'),
    ['--host', opts.host, '--port', String(opts.port), '--map', opts.map, ...(opts.compat ? ['--compat'] : [])],
    {lab: 3},
  ).catch((err: Error) => {
    throw new UserError(err.message, {hint: `is port ${opts.port} taken? ebpfcni metrics --stop, or pick --port`})
  })

export const stopExporterProcesses = (ledger = new Ledger()): Promise<number> =>
  stopOwnedProcesses([OWNER, LEGACY_OWNER], ledger)
