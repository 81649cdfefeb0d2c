import {existsSync, rmSync, rmdirSync, readdirSync, statSync} from 'node:fs'
import type {LedgerEntry, ResourceKind} from '../host/ledger.js'
import type {Remover, ResetAction} from './actions.js'
import {netnsDel, netnsExists, linkDel, xdpOff} from '../net/ip.js'
import {stopRecordedProcess, processAlive} from '../host/processes.js'
import {run} from '../host/exec.js'
import {tcxDetach} from '../bpf/tcx.js'
import {moveFile} from '../host/atomic-file.js'

// How reset removes each kind of host object. Every action is idempotent: an object
// that is already gone counts as removed.

const action = (e: LedgerEntry, description: string, perform: () => Promise<void>): ResetAction => ({
  description,
  kind: e.kind,
  entryIds: [e.id],
  perform,
})

/** An action on a device in the entry's netns (the host's when none): nothing to do once that netns is gone. */
const onDevice = (e: LedgerEntry, description: string, perform: (netns?: string) => Promise<void>): ResetAction => {
  const ns = typeof e.details.netns === 'string' && e.details.netns ? e.details.netns : undefined
  return action(e, `${description}${ns ? ` in netns ${ns}` : ''}`, async () => {
    if (ns && !netnsExists(ns)) return
    await perform(ns)
  })
}

export const baseRemovers: Partial<Record<ResourceKind, Remover>> = {
  // A simulated node (lab 5) is its netns and links, entries of their own: the record just goes.
  node: (e) =>
    action(
      e,
      `forget node ${e.name} (its netns and underlay link are removed as entries of their own)`,
      async () => {},
    ),
  netns: (e) =>
    action(e, `delete netns ${e.name}${netnsExists(e.name) ? '' : ' (already gone)'}`, () => netnsDel(e.name)),
  link: (e) => onDevice(e, `delete link ${e.name}`, (ns) => linkDel(e.name, ns)),
  xdp: (e) => onDevice(e, `detach XDP program from ${e.name}`, (ns) => xdpOff(e.name, ns)),
  tc: (e) =>
    onDevice(e, `remove tc clsact hook from ${e.name}`, async (ns) => {
      await run('tc', [...(ns ? ['-n', ns] : []), 'qdisc', 'del', 'dev', e.name, 'clsact'], {timeoutMs: 5000})
    }),
  // A tcx link: not in any qdisc, so `tc qdisc del` never removed it; detached and unpinned here.
  tcx: (e) =>
    action(
      e,
      `detach tcx ${String(e.details.direction)} link from ${e.name} (unpin ${String(e.details.pin)})`,
      async () => {
        tcxDetach(String(e.details.pin))
      },
    ),
  pin: (e) =>
    action(e, `unpin ${e.name}`, async () => {
      rmSync(e.name, {force: true, recursive: true})
    }),
  file: (e) => {
    const backup = e.details.backup as string | undefined
    const restoring = backup && existsSync(backup)
    return action(e, restoring ? `restore ${e.name} from its backup` : `remove installed file ${e.name}`, async () => {
      if (restoring) moveFile(backup, e.name)
      else rmSync(e.name, {force: true})
    })
  },
  // A scratch dir (details.scratch) is the tool's from top to bottom: all of it goes. Any other
  // (a pin dir) goes only once empty: what is in it has entries of its own.
  dir: (e) =>
    e.details.scratch === true
      ? action(e, `remove scratch directory ${e.name}`, async () => rmSync(e.name, {recursive: true, force: true}))
      : action(e, `remove directory ${e.name} if empty`, async () => {
          if (existsSync(e.name) && statSync(e.name).isDirectory() && readdirSync(e.name).length === 0)
            rmdirSync(e.name)
        }),
  process: (e) => {
    const pid = Number(e.details.pid)
    const alive = Number.isFinite(pid) && processAlive(pid, e.details.startTime as number | undefined)
    return action(e, `stop ${e.name} (pid ${pid}${alive ? '' : ', already exited'})`, () =>
      stopRecordedProcess(e.details),
    )
  },
}
