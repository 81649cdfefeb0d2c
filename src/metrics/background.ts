import {Ledger} from '../host/ledger.js'
import {startRecordedProcess, stopOwnedProcesses} from '../host/background.js'
import {processOwner} from '../host/owners.js'

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

export const stopExporterProcesses = (ledger = new Ledger()): Promise<number> =>
  stopOwnedProcesses([OWNER, LEGACY_OWNER], ledger)
