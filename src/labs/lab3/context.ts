import {dirname, join} from 'node:path'
import {Lab2Context} from '../lab2/context.js'
import {loadAndPin, type LoadOutcome} from '../../bpf/programs.js'
import {BpfObject} from '../../bpf/object.js'
import {readCounterMap, type CounterSnapshot} from '../../bpf/counters.js'
import {CheckSkip} from '../check-types.js'

const LAB = 3

/**
 * Lab 3 (and 4, which extends it): the checks build the learner's program and load it with
 * --replace themselves, as `check` installs the plugin itself: maps of the same shape are
 * reused, so the learner's counts and rules survive. Pods are made after that load, so
 * their veths run the current program.
 */
export class Lab3Context extends Lab2Context {
  protected readonly labNumber: number = LAB

  pinDir(): string {
    return dirname(this.xdpPin())
  }

  counterPin(): string {
    return join(this.pinDir(), 'counter')
  }

  deployed(): Promise<LoadOutcome> {
    return this.once('deployed', async () => {
      const b = await this.built()
      if (!b.ok) throw new CheckSkip('needs a program that compiles (bpf.compiles)')
      await this.beforeDeploy()
      const out = loadAndPin(b.object, {pinDir: this.pinDir(), ledger: this.ledger, lab: this.labNumber, replace: true})
      if (!out.ok) throw new CheckSkip('needs a program the verifier accepts (bpf.verifier-accepts)')
      this.afterDeploy(out)
      return out
    })
  }

  /** Hooks for labs that build on this one (lab 4 keeps the learner's rules across the checks). */
  protected async beforeDeploy(): Promise<void> {}
  protected afterDeploy(_out: LoadOutcome): void {}

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
    const b = await this.built()
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
