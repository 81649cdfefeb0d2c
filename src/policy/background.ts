import {Ledger} from '../host/ledger.js'
import {startRecordedProcess, stopOwnedProcesses} from '../host/background.js'
import {processOwner} from '../host/owners.js'

// `ebpfcni policy watch --background`: the controller as a recorded process (reset stops it).

const OWNER = processOwner('policy-controller')
/** What ledgers written before owner namespaces call it. */
const LEGACY_OWNER = 'policy-controller'

export const startControllerProcess = (cliBin: string, args: string[], ledger = new Ledger()) =>
  startRecordedProcess({
    ledger,
    owner: OWNER,
    lab: 4,
    name: 'policy controller',
    logName: 'policy-controller.log',
    file: process.execPath,
    args: [cliBin, 'policy', 'watch', ...args],
  })

export const stopControllerProcesses = (ledger = new Ledger()): Promise<number> =>
  stopOwnedProcesses([OWNER, LEGACY_OWNER], ledger)
