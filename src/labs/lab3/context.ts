import {dirname, join} from 'node:path'
import {lab2Context, type Lab2Context, type ProgramFixture, type ProgramOptions} from '../lab2/context.js'
import type {CheckPods} from '../../checks/check-pods.js'
import {loadAndPin, type LoadOutcome} from '../../bpf/programs.js'
import {BpfObject} from '../../bpf/object.js'
import {readCounterMap, type CounterSnapshot} from '../../bpf/counters.js'
import {CheckSkip} from '../../checks/engine.js'

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

  constructor(
    readonly pods: CheckPods,
    readonly program: ProgramFixture,
  ) {}

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
