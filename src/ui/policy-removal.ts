import type {RuleRemoval} from '../policy/service.js'
import {clockTime} from './stale-load.js'

// What `policy remove` says: the rule it took out of the store, then what it established about
// the map entry that rule wrote (it read the entry before and after), never a bare count.

export function describeRuleRemoval(r: RuleRemoval): string {
  const rule = `the rule ${r.rule.verdict} ${r.rule.from} → ${r.rule.to}`
  const e = r.entry
  if ('unresolved' in e) return `removed ${rule}; it names no map entry now (${e.unresolved})${others(r, 0, 0)}`
  const [src, dst] = e.key.split('>')
  const entry = `${r.mode === 'identity' ? `identity ${src}` : src} → ${dst} in ${e.map}`
  const by = e.keptBy.length ? `: ${e.keptBy.join(' and ')} write${e.keptBy.length === 1 ? 's' : ''} the same pair` : ''
  if (e.before === null && e.after === null)
    return `removed ${rule} from the store; the maps held no entry for it (${entry}): nothing to delete there${whyAbsent(e)}${others(r, 0, 0)}`
  if (e.before === null)
    return `removed ${rule} from the store; the maps held no entry for it (${entry}); the pair is now ${e.after}${by}${others(r, 1, 0)}`
  if (e.after === null) return `removed ${rule}: its entry ${entry} (${e.before}) is deleted${others(r, 0, 1)}`
  if (e.after === e.before)
    return `removed ${rule} from the store; its entry ${entry} stays ${e.after}${by}${others(r, 0, 0)}`
  return `removed ${rule} from the store; its entry ${entry} is now ${e.after} (was ${e.before})${by}${others(r, 1, 0)}`
}

/** What the pin's time establishes about an entry missing before the removal: a reload since, or none. */
function whyAbsent(e: {map: string; pinnedAt?: number; storeChangedAt?: number}): string {
  if (e.pinnedAt === undefined || e.storeChangedAt === undefined) return ''
  const [pinned, changed] = [clockTime(new Date(e.pinnedAt)), clockTime(new Date(e.storeChangedAt))]
  return e.pinnedAt > e.storeChangedAt
    ? ` (${e.map} was pinned at ${pinned}, after the store last wrote its entries at ${changed}: a map pinned anew starts empty)`
    : ` (${e.map} was pinned at ${pinned}, before the store last wrote its entries at ${changed}: not emptied by a reload since)`
}

/** The sync's other corrections (entries of pods gone, of rules changed elsewhere), when there were any. */
function others(r: RuleRemoval, ownWritten: number, ownRemoved: number): string {
  const [w, d] = [r.written - ownWritten, r.removed - ownRemoved]
  return w > 0 || d > 0 ? `; other entries brought in line with the store: ${w} written, ${d} removed` : ''
}
