import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import type {Discoverer, ResetAction} from '#reset/actions.js'
import {bridgePorts, link, linkDel, links} from '#net/ip.js'
import {realTargets} from '#engine/install-targets.js'
import {killProcessGroup, processTable, processesRunning} from '#host/processes.js'
import {inUseBy, liveRunAbove} from '#host/live-runs.js'

/** Where the reference solution keeps its address allocations (its default dataDir). */
export const IPAM_DIR = '/var/lib/cni/ebpfcni'

/**
 * What the learner's plugin made that no ledger knows: its bridge, veths on it, its IPAM
 * state. Every lab runs the same plugin, so this applies to a reset of any lab.
 */
export const lab1Discoverer: Discoverer = async () => {
  const actions: ResetAction[] = []
  // A plugin call orphaned by a killed run (hung in ADD, reparented to init) still holds its
  // lock and its `sleep`: stop it, with its whole process group. A call a live run of ebpfcni
  // is waiting for (a check in another terminal) is that run's: it stays.
  const table = processTable()
  for (const p of processesRunning(join(realTargets().cniBinDir, 'ebpfcni'), table)) {
    const run = liveRunAbove(p.pid, table)
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
  for (const br of bridges) {
    if (!(await link(br))) continue
    for (const port of await bridgePorts(br)) {
      actions.push({
        description: `delete veth ${port.ifname} (on ${br}, made by your plugin)`,
        kind: 'link',
        entryIds: [],
        perform: () => linkDel(port.ifname),
      })
    }
    actions.push({
      description: `delete bridge ${br} (made by your plugin)`,
      kind: 'link',
      entryIds: [],
      perform: () => linkDel(br),
    })
  }
  if (existsSync(IPAM_DIR)) {
    actions.push({
      description: `remove your plugin's IPAM state ${IPAM_DIR}`,
      kind: 'dir',
      entryIds: [],
      perform: async () => rmSync(IPAM_DIR, {recursive: true, force: true}),
    })
  }
  return actions
}
