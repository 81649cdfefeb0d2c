import {existsSync} from 'node:fs'
import {basename} from 'node:path'
import {describeRun, ok, run} from '../host/exec.js'
import {mapInfo} from './map-ops.js'
import {BpfObject, objKind, progInfo} from './object.js'
import {eachPinnedObject} from './pinned-maps.js'

// Which loaded programs use a pinned map. A map's users are the programs whose map_ids hold its id
// (bpftool prog show); a pinned map no program uses holds what programs wrote before (walked: the
// map renamed couter, the old pin counter kept and served by metrics as healthy, its counts frozen).

export interface ProgramRef {
  id: number
  name: string
}

/** Loaded programs by the ids of the maps they use (`bpftool prog show -j`'s map_ids). */
export async function programsByMap(): Promise<Map<number, ProgramRef[]> | {error: string}> {
  const r = await run('bpftool', ['prog', 'show', '-j'], {timeoutMs: 10_000, maxOutputBytes: 32 * 1024 * 1024})
  if (!ok(r)) return {error: describeRun(r)}
  let progs: unknown
  try {
    progs = JSON.parse(r.stdout)
  } catch {
    return {error: 'bpftool prog show printed something that is not JSON'}
  }
  return usersByMap(Array.isArray(progs) ? progs : [])
}

/** The map id -> programs index of a `bpftool prog show -j` document. */
export function usersByMap(progs: Array<{id?: unknown; name?: unknown; map_ids?: unknown}>): Map<number, ProgramRef[]> {
  const out = new Map<number, ProgramRef[]>()
  for (const p of progs) {
    if (!Array.isArray(p.map_ids)) continue
    const ref = {id: Number(p.id), name: typeof p.name === 'string' ? p.name : ''}
    for (const m of p.map_ids) out.set(Number(m), [...(out.get(Number(m)) ?? []), ref])
  }
  return out
}

/** A pinned map and the loaded programs that use it. */
export interface PinnedMapUse {
  pin: string
  name: string
  id: number
  users: ProgramRef[]
}

/** What a pin folder holds: its maps with their users, and the names of the programs pinned beside them. */
export interface PinDirUse {
  pinDir: string
  maps: PinnedMapUse[]
  programs: Array<ProgramRef & {pin: string}>
}

/** The maps and programs pinned in a folder, each map with its users; undefined without the folder. */
export function pinDirUse(pinDir: string, byMap: Map<number, ProgramRef[]>): PinDirUse | undefined {
  const use: PinDirUse = {pinDir, maps: [], programs: []}
  const found = eachPinnedObject(pinDir, (pin, fd) => {
    const kind = objKind(fd)
    if (kind === 'map') {
      const info = mapInfo(fd)
      use.maps.push({pin, name: basename(pin), id: info.id, users: byMap.get(info.id) ?? []})
    } else if (kind === 'program') use.programs.push({pin, name: basename(pin), id: progInfo(fd).id})
  })
  return found ? use : undefined
}

/**
 * One line per pinned map no loaded program uses: it is established that what the programs do no
 * longer reaches it; the maps the programs pinned beside it use are named, so a renamed map shows.
 */
export function orphanLines(use: PinDirUse, only?: string, declared: ReadonlySet<string> = new Set()): string[] {
  const used = use.maps.filter((m) => m.users.length).map((m) => m.name)
  const progs = use.programs.map((p) => p.name)
  const beside = progs.length
    ? `; the programs pinned in ${use.pinDir} (${progs.join(', ')}) use ${used.length ? used.join(', ') : 'none of its maps'}`
    : `; no program is pinned in ${use.pinDir}`
  return use.maps
    .filter((m) => !m.users.length && (only === undefined || m.pin === only))
    .map((m) =>
      // Walked (lab 4 deny): the starter declares isolated and policy_ports for step 2; no program uses them
      // yet, and the line said to rm them.
      declared.has(m.name)
        ? `no loaded program uses ${m.pin} yet: your program declares ${m.name}, and none of its programs reads or writes it (a step still to write?)`
        : `no loaded program uses ${m.pin}: no packet changes it any more${beside}. Once you no longer need it: rm ${m.pin}`,
    )
}

/** The map names an object file declares (nothing when it is missing or unreadable). */
export function declaredMaps(objectPath: string): Set<string> {
  if (!existsSync(objectPath)) return new Set()
  try {
    const obj = BpfObject.open(objectPath)
    try {
      return new Set(obj.mapDefs().map((d) => d.name))
    } finally {
      obj.close()
    }
  } catch {
    return new Set()
  }
}

/** The orphan lines for pinDir (all its maps, or the one at `only`); a line saying why when bpftool cannot tell. */
export async function orphanedPinLines(pinDir: string, only?: string, declaredBy?: string): Promise<string[]> {
  const byMap = await programsByMap()
  if ('error' in byMap) return [`cannot tell which programs use the pinned maps: ${byMap.error}`]
  const use = pinDirUse(pinDir, byMap)
  return use ? orphanLines(use, only, declaredBy ? declaredMaps(declaredBy) : undefined) : []
}
