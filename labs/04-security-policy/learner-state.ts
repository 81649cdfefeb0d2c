import {existsSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import type {LoadOutcome} from '#bpf/programs.js'
import {closeFd} from '#bpf/ffi.js'
import {mapDelete, mapDump} from '#bpf/map-ops.js'
import {objGet} from '#bpf/object.js'
import {PolicyMaps, ALL_POLICY_MAPS, detectMode} from '#policy/maps.js'
import {TO_POD_PROGRAM} from '#policy/endpoints.js'
import {emptyDesired, type Desired} from '#policy/resolve.js'

/**
 * The learner's own policy state in the pinned maps, kept across a check run: their rules and
 * conntrack entries are read before the run's load and put back in cleanup, so that checking does
 * not cost them their rules, and the run's own flows do not stay behind.
 */
export class LearnerPolicyState {
  /** The learner's rules before the run's load, restored in cleanup. */
  private saved?: Desired
  /** The conntrack entries before the run: the run's own flows are removed after it. */
  private savedFlows?: Set<string>

  constructor(private readonly pinDir: () => string) {}

  /** Put back the learner's rules (or empty maps when there were none), and forget the run's flows. */
  restore(): void {
    try {
      this.restoreRules()
    } finally {
      this.restoreFlows()
    }
  }

  save(): void {
    // The learner's rules, as they were: restored in cleanup.
    this.savedFlows = this.flowKeys()
    if (!detectMode(this.pinDir())) return
    try {
      this.saved = PolicyMaps.snapshot(this.pinDir())
    } catch {
      // A map of the wrong shape holds nothing worth keeping.
    }
  }

  dropStalePins(out: LoadOutcome): void {
    // Maps and programs of an earlier design stay pinned after a reload; they would confuse the
    // mode detection (endpoint_policy pinned means the identity design) and the agent (a stale
    // to_pod would be attached to pods).
    for (const name of ALL_POLICY_MAPS) {
      if (!out.maps.some((m) => m.name === name)) rmSync(join(this.pinDir(), name), {force: true})
    }
    if (!out.programs.some((p) => p.name === TO_POD_PROGRAM)) rmSync(join(this.pinDir(), TO_POD_PROGRAM), {force: true})
  }

  /** Leave the learner's rules as they were, or empty maps when there were none before. */
  private restoreRules(): void {
    let pinDir: string
    try {
      pinDir = this.pinDir()
    } catch {
      return // no usable config: the run made no maps of its own
    }
    const mode = detectMode(pinDir)
    if (!mode) return
    // The learner's rules fit only maps of the design they were read from.
    const desired = !this.saved ? emptyDesired(mode) : this.saved.mode === mode ? this.saved : undefined
    if (!desired) return
    try {
      const maps = PolicyMaps.open(pinDir)
      try {
        maps.sync(desired)
      } finally {
        maps.close()
      }
    } catch {
      // A map of the wrong shape: nothing of ours, or the learner's, fits in it.
    }
  }

  /** Use the pinned conntrack map; undefined when there is none (or no usable config, or a map that cannot be read). */
  private withConntrack<T>(use: (fd: number) => T): T | undefined {
    let pin: string
    try {
      pin = join(this.pinDir(), 'conntrack')
    } catch {
      return undefined // no usable config: the run made no maps of its own
    }
    if (!existsSync(pin)) return undefined
    const fd = objGet(pin)
    try {
      return use(fd)
    } catch {
      return undefined // not a map we can read: nothing of the run's in it
    } finally {
      closeFd(fd)
    }
  }

  /** The conntrack map's keys (hex), or nothing when the program has none. */
  private flowKeys(): Set<string> | undefined {
    return this.withConntrack((fd) => new Set(mapDump(fd).map((e) => e.key.toString('hex'))))
  }

  /** Forget the flows the run's pods and frames opened; the learner's own stay. */
  private restoreFlows(): void {
    this.withConntrack((fd) => {
      for (const e of mapDump(fd)) if (!this.savedFlows?.has(e.key.toString('hex'))) mapDelete(fd, e.key)
    })
  }
}
