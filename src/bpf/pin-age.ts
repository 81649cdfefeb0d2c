import {existsSync, statSync} from 'node:fs'
import {join} from 'node:path'

/** The programs `bpf load` pins from the workspace's ebpfcni.bpf.c, as the labs name them. */
const PROGRAM_PINS = ['xdp_prog', 'to_pod', 'from_pod']

export interface StaleLoad {
  source: string
  /** When the oldest of the pinned programs was pinned. */
  pinnedAt: Date
}

/**
 * Whether the source was saved after the pinned programs were loaded: then what runs is older than what
 * the learner reads (walked: a fix never reloaded, probed by hand, cost minutes with nothing saying so).
 * A bpffs inode's mtime is the moment of pinning, and `bpf load --replace` pins anew.
 */
export function loadedBeforeLastEdit(source: string, pinDir: string): StaleLoad | undefined {
  if (!existsSync(source)) return undefined
  const pinned = PROGRAM_PINS.map((p) => join(pinDir, p))
    .filter((p) => existsSync(p))
    .map((p) => statSync(p).mtimeMs)
  if (pinned.length === 0) return undefined
  const oldest = Math.min(...pinned)
  return statSync(source).mtimeMs > oldest ? {source, pinnedAt: new Date(oldest)} : undefined
}
