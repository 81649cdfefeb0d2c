import {display, type Decoded} from '../bpf/btf.js'
import {mapTypeName, type MapInfo} from '../bpf/map-ops.js'
import type {MapKeyResult, PinnedMapDump} from '../bpf/pinned-maps.js'
import {table} from './render.js'
import {listSome} from '../checks/engine.js'

// `bpf maps` as a learner reads it: the pinned maps in a table, one map's entries decoded with
// their key bytes beside (padding too), one key's value.

/** The maps of a pin folder: pin, type, key and value sizes, max entries. */
export const mapListView = (rows: Array<MapInfo & {pin: string}>): string =>
  table(
    ['PIN', 'TYPE', 'KEY', 'VALUE', 'MAX'],
    rows.map((r) => [r.pin, mapTypeName(r.type), `${r.keySize} B`, `${r.valueSize} B`, String(r.maxEntries)]),
  )

/**
 * Keys shown alike whose bytes differ: the decoded form leaves padding out, so only padding differs
 * (walked: one source counted under two keys, garbage in a struct key's padding).
 */
export function paddingOnlyKeys(entries: PinnedMapDump['entries']): string[] {
  const byShown = new Map<string, Set<string>>()
  for (const e of entries) {
    const shown = display(e.key as Decoded)
    byShown.set(shown, (byShown.get(shown) ?? new Set()).add(e.keyHex))
  }
  return [...byShown].filter(([, bytes]) => bytes.size > 1).map(([shown, bytes]) => `${shown} (${bytes.size} keys)`)
}

/** One map's entries, then how many there are, and keys that differ only in padding. */
export function mapDumpView(dump: PinnedMapDump): string {
  const alike = paddingOnlyKeys(dump.entries)
  return [
    table(
      ['KEY', 'VALUE', 'KEY BYTES'],
      dump.entries.map((e) => [display(e.key as Decoded), display(e.value as Decoded), e.keyBytes]),
    ),
    `${dump.entries.length} entr${dump.entries.length === 1 ? 'y' : 'ies'} in ${dump.map}`,
    ...(alike.length
      ? [
          `keys differ only in padding bytes: ${listSome(alike, 3, '; ')}. Zero the key (\`= {}\` or __builtin_memset) before filling it: the map compares every byte`,
        ]
      : []),
  ].join('\n')
}

/** What --key found, set or deleted. */
export const mapKeyLine = (result: MapKeyResult): string =>
  'deleted' in result
    ? result.deleted
      ? `deleted ${result.key}`
      : `${result.key} was not in the map`
    : result.value === null
      ? `${result.key}: not in the map`
      : `${result.key} = ${String(result.value)}`
