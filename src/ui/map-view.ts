import {display, type Decoded} from '../bpf/btf.js'
import {mapTypeName, type MapInfo} from '../bpf/map-ops.js'
import type {MapKeyResult, PinnedMapDump} from '../bpf/pinned-maps.js'
import {table} from './render.js'

// `bpf maps` as a learner reads it: the pinned maps in a table, one map's entries decoded with
// their key bytes beside, one key's value.

/** The maps of a pin folder: pin, type, key and value sizes, max entries. */
export const mapListView = (rows: Array<MapInfo & {pin: string}>): string =>
  table(
    ['PIN', 'TYPE', 'KEY', 'VALUE', 'MAX'],
    rows.map((r) => [r.pin, mapTypeName(r.type), `${r.keySize} B`, `${r.valueSize} B`, String(r.maxEntries)]),
  )

/** One map's entries, then how many there are. */
export const mapDumpView = (dump: PinnedMapDump): string =>
  [
    table(
      ['KEY', 'VALUE', 'KEY BYTES'],
      dump.entries.map((e) => [display(e.key as Decoded), display(e.value as Decoded), e.keyBytes]),
    ),
    `${dump.entries.length} entr${dump.entries.length === 1 ? 'y' : 'ies'} in ${dump.map}`,
  ].join('\n')

/** What --key found, set or deleted. */
export const mapKeyLine = (result: MapKeyResult): string =>
  'deleted' in result
    ? result.deleted
      ? `deleted ${result.key}`
      : `${result.key} was not in the map`
    : result.value === null
      ? `${result.key}: not in the map`
      : `${result.key} = ${String(result.value)}`
