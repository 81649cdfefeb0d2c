import {closeSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {stateDir} from '../host/paths.js'
import {processAlive} from '../host/processes.js'

// Who reads a flow ring: a BPF ring buffer has one consumer position, so one process owns it and
// says so in owner.json (its pid, its start time, how far it has drained the ring). Claiming is
// O_EXCL, so two readers starting at once cannot both own it; a dead owner's claim is taken over.

/** One folder per pin dir: a ring, its owner and its log belong together. */
export const observeDir = (pinDir: string): string =>
  join(stateDir(), 'observe', pinDir.replace(/^\/sys\/fs\/bpf\/?/, '').replace(/[^\w.-]+/g, '_') || 'bpffs')
const ownerPath = (pinDir: string): string => join(observeDir(pinDir), 'owner.json')

export interface RingOwner {
  pid: number
  startTime?: number
  /** CLOCK_MONOTONIC ns (the clock bpf_ktime_get_ns reads) when the owner last emptied the ring. */
  drainedNs: string
}

/** The process that owns the ring now, if it is alive. */
export function ringOwner(pinDir: string): RingOwner | undefined {
  try {
    const o = JSON.parse(readFileSync(ownerPath(pinDir), 'utf8')) as RingOwner
    return processAlive(o.pid, o.startTime) ? o : undefined
  } catch {
    return undefined
  }
}

/**
 * Become the ring's owner unless a live process is: owner.json made with O_EXCL, so two readers
 * starting at once cannot both own it; a dead owner's file is taken over.
 */
export function claimRing(pinDir: string): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      closeSync(openSync(ownerPath(pinDir), 'wx'))
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const raw = (() => {
        try {
          return readFileSync(ownerPath(pinDir), 'utf8')
        } catch {
          return undefined
        }
      })()
      // Empty: another reader between its create and its first write: it owns the ring.
      if (raw === '' && Date.now() - statSync(ownerPath(pinDir)).mtimeMs < 2000) return false
      if (ringOwner(pinDir)) return false
      rmSync(ownerPath(pinDir), {force: true})
    }
  }
  return false
}

/** Say in owner.json that this process owns the ring and has drained it up to `drainedNs`. */
export function writeRingOwner(pinDir: string, startTime: number | undefined, drainedNs: bigint): void {
  const state: RingOwner = {pid: process.pid, startTime, drainedNs: String(drainedNs)}
  const tmp = `${ownerPath(pinDir)}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(state))
  renameSync(tmp, ownerPath(pinDir))
}

/** Give the ring up: owner.json goes, and the next reader claims it. */
export function releaseRing(pinDir: string): void {
  rmSync(ownerPath(pinDir), {force: true})
}
