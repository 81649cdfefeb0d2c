import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {startRecordedProcess, stopOwnedProcesses} from '../host/background.js'
import {processOwner} from '../host/owners.js'
import {packageRoot} from '../host/paths.js'
import {UserError} from '../host/errors.js'
import type {ControllerSources} from './controller-sources.js'

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

/** `policy watch --background`: this CLI's controller over the same sources, as lab 4's process. */
export const startBackgroundController = (sources: ControllerSources) =>
  startControllerProcess(join(packageRoot(), 'bin', 'run.js'), [
    '--pin-dir',
    sources.pinDir,
    '--pods',
    sources.pods,
    ...(sources.criSocket ? ['--cri-socket', sources.criSocket] : []),
    '--policies',
    sources.policies,
    ...(sources.apiServer ? ['--api-server', sources.apiServer] : []),
    '--resync',
    String(sources.resync),
  ]).catch((err: Error) => {
    throw new UserError(err.message)
  })

export const stopControllerProcesses = (ledger = new Ledger()): Promise<number> =>
  stopOwnedProcesses([OWNER, LEGACY_OWNER], ledger)
