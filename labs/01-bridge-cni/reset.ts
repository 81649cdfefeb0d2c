import {existsSync, readFileSync, readlinkSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import type {Discoverer, ResetAction} from '#reset/actions.js'
import {bridgePorts, link, linkDel, links, netnsById} from '#net/ip.js'
import {realTargets} from '#engine/install-targets.js'
import {killProcessGroup, processTable, processesRunning} from '#host/processes.js'
import {inUseBy, liveRun, liveRunAbove} from '#host/live-runs.js'
import {Ledger} from '#host/ledger.js'

/** Where the reference solution keeps its address allocations (its default dataDir). */
export const IPAM_DIR = '/var/lib/cni/ebpfcni'

/**
 * The pods' netns a live run of ebpfcni other than this one recorded (a check in another terminal,
 * `lab all --auto`), with why they stay: the veths into them, their bridge and the addresses the
 * plugin recorded for them are that run's until it ends.
 */
function liveRunNetns(): Map<string, string> {
  const why = new Map<string, string | undefined>()
  const held = new Map<string, string>()
  for (const e of new Ledger().find((x) => x.kind === 'netns' && x.by !== undefined)) {
    const key = `${e.by!.pid}:${e.by!.startTime ?? ''}`
    if (!why.has(key)) {
      const run = liveRun(e.by!)
      why.set(key, run && inUseBy(run))
    }
    const w = why.get(key)
    if (w) held.set(e.name, w)
  }
  return held
}

/** Whether a process runs in this process's network namespace: only there can it make our bridges. */
function inThisNetns(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net')
  } catch {
    return false
  }
}

/**
 * Whether a process sees this process's files: one in another mount namespace (a private host's, a
 * container's) runs another /opt/cni/bin/ebpfcni, not this host's plugin.
 */
function inThisMountNs(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`) === readlinkSync('/proc/self/ns/mnt')
  } catch {
    return false
  }
}

/**
 * What the learner's plugin made that no ledger knows: its bridge, veths on it, its IPAM
 * state. Every lab runs the same plugin, so this applies to a reset of any lab. A veth into a
 * live run's pod stays, and so do its bridge and the IPAM state (as do all of them while a live
 * run's plugin call is under way in this network namespace: it may be making a bridge or recording
 * an address; a call in another one, a private host's, makes none of ours).
 */
export const lab1Discoverer: Discoverer = async () => {
  const actions: ResetAction[] = []
  // A plugin call orphaned by a killed run (hung in ADD, reparented to init) still holds its
  // lock and its `sleep`: stop it, with its whole process group. A call a live run of ebpfcni
  // is waiting for (a check in another terminal) is that run's: it stays.
  const table = processTable()
  let inFlight: string | undefined
  const calls = processesRunning(join(realTargets().cniBinDir, 'ebpfcni'), table).filter((x) => inThisMountNs(x.pid))
  for (const p of calls) {
    const run = liveRunAbove(p.pid, table)
    if (run && inThisNetns(p.pid)) inFlight ??= inUseBy(run)
    actions.push({
      description: `stop your plugin's process ${p.pid} (${p.argv.join(' ').slice(0, 60)}) and its process group`,
      kind: 'process',
      entryIds: [],
      perform: () => killProcessGroup(p.pgid),
      ...(run ? {heldBy: inUseBy(run)} : {}),
    })
  }
  const bridges = new Set<string>()
  const conf = join(realTargets().cniConfDir, '10-ebpfcni.conf')
  if (existsSync(conf)) {
    try {
      const raw = JSON.parse(readFileSync(conf, 'utf8')) as {bridge?: string}
      bridges.add(typeof raw.bridge === 'string' ? raw.bridge : 'bridge0')
    } catch {
      // an unparsable config names no bridge
    }
  }
  // Bridges the checks make, should a crashed run have left one.
  for (const l of await links()) if (l.ifname.startsWith('ebpfchk-')) bridges.add(l.ifname)
  const liveNetns = liveRunNetns()
  const netnsNames = liveNetns.size ? await netnsById() : new Map<number, string>()
  let bridgeHeld: string | undefined
  for (const br of bridges) {
    if (!(await link(br))) continue
    let held = inFlight
    for (const port of await bridgePorts(br)) {
      const peerNetns = port.link_netnsid === undefined ? undefined : netnsNames.get(port.link_netnsid)
      const why = peerNetns === undefined ? undefined : liveNetns.get(peerNetns)
      held ??= why
      actions.push({
        description: `delete veth ${port.ifname} (on ${br}, made by your plugin)`,
        kind: 'link',
        entryIds: [],
        perform: () => linkDel(port.ifname),
        ...(why ? {heldBy: why} : {}),
      })
    }
    bridgeHeld ??= held
    actions.push({
      description: `delete bridge ${br} (made by your plugin)`,
      kind: 'link',
      entryIds: [],
      perform: () => linkDel(br),
      ...(held ? {heldBy: held} : {}),
    })
  }
  if (existsSync(IPAM_DIR)) {
    const held = inFlight ?? bridgeHeld
    actions.push({
      description: `remove your plugin's IPAM state ${IPAM_DIR}`,
      kind: 'dir',
      entryIds: [],
      perform: async () => rmSync(IPAM_DIR, {recursive: true, force: true}),
      ...(held ? {heldBy: held} : {}),
    })
  }
  return actions
}
