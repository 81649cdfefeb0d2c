import {dirname, join} from 'node:path'
import {lab2Context, type Lab2Context, type ProgramFixture, type ProgramOptions} from '../02-ebpf-basics/context.js'
import type {CheckPods} from '#checks/check-pods.js'
import {loadAndPin, type LoadOutcome} from '#bpf/programs.js'
import {BpfObject} from '#bpf/object.js'
import {existsSync} from 'node:fs'
import {keyToIpv4, readCounterMap, type CounterSnapshot} from '#bpf/counters.js'
import {closeFd} from '#bpf/ffi.js'
import {mapDelete, mapDump} from '#bpf/map-ops.js'
import {objGet} from '#bpf/object.js'
import {CheckSkip} from '#checks/engine.js'
import {podNamesByIp} from '#pods/service.js'

/** What a lab that builds on the pinned program does around each load (lab 4 keeps the learner's rules). */
export interface DeployHooks {
  before?: () => Promise<void> | void
  after?: (out: LoadOutcome) => void
}

/**
 * The learner's program loaded and pinned where the plugin attaches it: lab 3's fixture (lab 4
 * builds on it). The checks load it with --replace themselves, as `check` installs the plugin
 * itself: maps of the same shape are reused, so the learner's counts and rules survive. Pods are
 * made after that load, so their veths run the current program.
 */
export class PinnedProgram {
  private readonly hooks: DeployHooks[] = []
  /** The counter map's keys (hex) before the run's load: what the run's own pods add is removed after it. */
  private countedBefore?: Set<string>

  constructor(
    readonly pods: CheckPods,
    readonly program: ProgramFixture,
  ) {}

  /** Use the pinned counter map; undefined when none is pinned or it cannot be read. */
  private withCounter<T>(use: (fd: number) => T): T | undefined {
    if (!existsSync(this.counterPin())) return undefined
    let fd: number | undefined
    try {
      fd = objGet(this.counterPin())
      return use(fd)
    } catch {
      return undefined // not a map we can read: nothing of the run's in it
    } finally {
      if (fd !== undefined) closeFd(fd)
    }
  }

  /**
   * Forget the counts of the run's pods, gone now: left in the map, `metrics` and `bpf maps` would
   * list them as sources no pod has (pod=""). The learner's counts stay: the keys that were there
   * before the run, and those of the pods ebpfcni made for them (pod add) since.
   */
  private forgetRunCounts(): void {
    const before = this.countedBefore ?? new Set<string>()
    const theirs = podNamesByIp(this.pods.ledger)
    this.withCounter((fd) => {
      for (const e of mapDump(fd)) {
        if (e.key.length !== 4 || before.has(e.key.toString('hex')) || theirs.has(keyToIpv4(e.key))) continue
        mapDelete(fd, e.key)
      }
    })
  }

  /** Run `hooks` around the load (a fixture that builds on this one registers them). */
  aroundDeploy(hooks: DeployHooks): void {
    this.hooks.push(hooks)
  }

  pinDir(): string {
    return dirname(this.program.xdpPin())
  }

  counterPin(): string {
    return join(this.pinDir(), 'counter')
  }

  deployed(): Promise<LoadOutcome> {
    return this.pods.once('deployed', async () => {
      const b = await this.program.built()
      if (!b.ok) throw new CheckSkip('needs a program that compiles (bpf.compiles)')
      for (const h of this.hooks) await h.before?.()
      this.countedBefore = this.withCounter((fd) => new Set(mapDump(fd).map((e) => e.key.toString('hex'))))
      this.pods.onCleanup('after-pods', () => this.forgetRunCounts())
      const out = loadAndPin(b.object, {
        pinDir: this.pinDir(),
        ledger: this.pods.ledger,
        lab: this.pods.labId,
        replace: true,
      })
      if (!out.ok) throw new CheckSkip('needs a program the verifier accepts (bpf.verifier-accepts)')
      for (const h of this.hooks) h.after?.(out)
      return out
    })
  }

  /** Skip unless the learner's program declares a map named counter (then it is pinned). */
  async requireCounterMap(): Promise<void> {
    const d = await this.deployed()
    if (!d.maps.some((m) => m.name === 'counter')) throw new CheckSkip('needs a map named counter (map.counter.pinned)')
  }

  /** The pinned counter map, read whole (skips when the map is absent or unusable). */
  async counters(): Promise<CounterSnapshot> {
    await this.requireCounterMap()
    try {
      return readCounterMap(this.counterPin())
    } catch (err) {
      throw new CheckSkip(`needs a readable counter map (map.counter.pinned): ${(err as Error).message}`)
    }
  }

  /** xdp_prog's instructions as compiled (skips without a build). */
  async instructions(): Promise<Buffer> {
    const b = await this.program.built()
    if (!b.ok) throw new CheckSkip('needs a program that compiles (bpf.compiles)')
    const obj = BpfObject.open(b.object)
    try {
      return obj.instructions('xdp_prog')
    } catch {
      throw new CheckSkip('needs a program named xdp_prog (bpf.verifier-accepts)')
    } finally {
      obj.close()
    }
  }
}

/** Lab 3's checks: lab 2's, plus the program pinned with its counter map. */
export interface Lab3Context extends Lab2Context {
  pinned: PinnedProgram
}

export function lab3Context(opts: ProgramOptions): Lab3Context {
  const base = lab2Context(opts)
  return {...base, pinned: new PinnedProgram(base.pods, base.program)}
}
