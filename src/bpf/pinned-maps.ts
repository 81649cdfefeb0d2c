import {existsSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {UserError} from '../host/errors.js'
import {closeFd} from './ffi.js'
import {objGet} from './object.js'
import {resolvePin} from './programs.js'
import {MapCodec, parseKey, parseValue, type DecodedEntry} from './map-codec.js'
import {
  isPerCpu,
  mapDelete,
  mapDump,
  mapInfo,
  mapLookup,
  mapTypeName,
  mapUpdate,
  valueBufferSize,
  type MapInfo,
} from './map-ops.js'

// Pinned maps by path, as `bpf maps` shows them: the maps of a pin folder, one map dumped with its
// keys and values decoded (map-codec.ts), one key typed by the learner looked up, set or deleted.

/** Open a pinned map, hand its fd and info to `use`, close it. */
function withPinnedMap<T>(pin: string, use: (fd: number, info: MapInfo) => T): T {
  const fd = objGet(pin)
  try {
    return use(fd, mapInfo(fd))
  } finally {
    closeFd(fd)
  }
}

/**
 * Each BPF object pinned directly in a folder (sub-folders left out), opened for `visit` and closed after;
 * a pin that cannot be opened, or that `visit` throws on (a program where a map was wanted), is passed
 * over. false when there is no folder.
 */
export function eachPinnedObject(pinDir: string, visit: (pin: string, fd: number) => void): boolean {
  if (!existsSync(pinDir)) return false
  for (const f of readdirSync(pinDir)) {
    const pin = join(pinDir, f)
    if (!statSync(pin).isFile()) continue
    let fd = -1
    try {
      fd = objGet(pin)
      visit(pin, fd)
    } catch {
      // not an object this visit reads: nothing to say about it
    } finally {
      if (fd >= 0) closeFd(fd)
    }
  }
  return true
}

/** The maps pinned in a folder (pinned programs and sub-folders left out); undefined when there is no folder. */
export function pinnedMaps(pinDir: string): Array<MapInfo & {pin: string}> | undefined {
  const rows: Array<MapInfo & {pin: string}> = []
  // mapInfo throws on a pinned program: it is left out.
  return eachPinnedObject(pinDir, (pin, fd) => rows.push({...mapInfo(fd), pin})) ? rows : undefined
}

/** A map named by a path or by its name under the pin folder, which must be pinned. */
export function pinnedMapPath(nameOrPath: string, pinDir: string): string {
  const pin = resolvePin(nameOrPath, pinDir)
  if (!existsSync(pin)) throw new UserError(`${pin} is not pinned`, {hint: 'list what is: ebpfcni bpf maps'})
  return pin
}

export interface PinnedMapDump {
  map: string
  type: string
  keySize: number
  valueSize: number
  entries: DecodedEntry[]
}

/** Every entry of a pinned map, decoded. */
export function dumpPinnedMap(pin: string): PinnedMapDump {
  return withPinnedMap(pin, (fd, info) => {
    const codec = MapCodec.for(info)
    const entries = mapDump(fd, info).map((e) => codec.decode(e.key, e.value))
    return {map: pin, type: mapTypeName(info.type), keySize: info.keySize, valueSize: info.valueSize, entries}
  })
}

/** What one key holds after `bpf maps MAP --key K [--set V | --delete]`: value null when it is not in the map. */
export type MapKeyResult =
  {key: string; deleted: boolean} | {key: string; value: null} | {key: string; value: unknown; valueHex: string}

/** Look one key up (typed by the learner, map-codec.ts's parseKey); with `set` write it first, with `remove` delete it. */
export function pinnedMapKey(pin: string, keyText: string, op: {set?: string; remove?: boolean}): MapKeyResult {
  return withPinnedMap(pin, (fd, info) => {
    const key = parseKey(keyText, info.keySize)
    if (op.remove) return {key: keyText, deleted: mapDelete(fd, key)}
    if (op.set !== undefined) {
      if (isPerCpu(info.type))
        throw new UserError("--set on a per-CPU map is not supported (it would set every CPU's slot)")
      mapUpdate(fd, key, parseValue(op.set, info.valueSize))
    }
    const v = mapLookup(fd, key, valueBufferSize(info))
    if (!v) return {key: keyText, value: null}
    return {key: keyText, value: MapCodec.for(info).value(v), valueHex: v.toString('hex')}
  })
}
