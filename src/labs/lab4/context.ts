import {existsSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {Lab3Context} from '../lab3/context.js'
import type {Lab1Options} from '../lab1/context.js'
import type {LoadOutcome} from '../../bpf/programs.js'
import {closeFd, mapLookup, mapInfo, objGet, valueBufferSize} from '../../bpf/libbpf.js'
import {counterValue} from '../../bpf/counters.js'
import {PolicyService} from '../../policy/service.js'
import {PolicyStore} from '../../policy/store.js'
import {MemoryPodSource} from '../../policy/pods.js'
import {PolicyMaps, POLICY_MAPS, detectMode, type Current} from '../../policy/maps.js'
import {PolicyController} from '../../policy/controller.js'
import type {Labels} from '../../policy/networkpolicy.js'
import type {Desired, Mode} from '../../policy/resolve.js'
import {CheckSkip, CheckFailure} from '../check-types.js'
import type {CheckPod} from '../check-pods.js'

const LAB = 4
const ALL_POLICY_MAPS = [...new Set([...Object.values(POLICY_MAPS['ip-pair']), ...Object.values(POLICY_MAPS.identity)])]

export type ControllerFactory = (service: PolicyService) => PolicyController

export interface Lab4Options extends Lab1Options {
  workspace: string
  /** How policy.follows-pods gets its controller (tests swap in broken ones). */
  controller?: ControllerFactory
}

/**
 * Lab 4: the checks drive the learner's program through the policy layer, with their own
 * pods (labelled) and their own policy state; the learner's rules in the pinned maps are
 * read before and written back after, so a check run does not cost them their rules.
 */
export class Lab4Context extends Lab3Context {
  protected readonly labNumber: number = LAB
  readonly podSource = new MemoryPodSource()
  private service?: PolicyService
  private saved?: {mode: Mode; current: Current}
  readonly controller: ControllerFactory

  constructor(opts: Lab4Options) {
    super(opts)
    this.controller = opts.controller ?? ((s) => new PolicyController(s, {debounceMs: 30}))
  }

  protected async beforeDeploy(): Promise<void> {
    // The learner's rules, as they were: restored in cleanup.
    const mode = detectMode(this.pinDir())
    if (!mode) return
    try {
      const maps = PolicyMaps.open(this.pinDir())
      this.saved = {mode, current: maps.read()}
      maps.close()
    } catch {
      // A map of the wrong shape holds nothing worth keeping.
    }
  }

  protected afterDeploy(out: LoadOutcome): void {
    // Policy maps of an earlier design stay pinned after a reload; they would confuse the
    // mode detection (identity_policy pinned means the identity design).
    for (const name of ALL_POLICY_MAPS) {
      if (!out.maps.some((m) => m.name === name)) rmSync(join(this.pinDir(), name), {force: true})
    }
  }

  /** The check run's policy service (its own state file, its own pods), over the learner's maps. */
  async policy(): Promise<PolicyService> {
    const d = await this.deployed()
    if (!d.maps.some((m) => m.name === POLICY_MAPS['ip-pair'].pairs || m.name === POLICY_MAPS.identity.pairs)) {
      throw new CheckSkip('needs the policy map (policy.test-run)')
    }
    this.service ??= new PolicyService({pinDir: this.pinDir(), store: new PolicyStore(join(this.tmp, 'policy.json')), pods: this.podSource})
    return this.service
  }

  /** Open the policy maps; a wrong layout fails the running check with what is wrong. */
  async maps(): Promise<PolicyMaps> {
    await this.policy()
    try {
      return PolicyMaps.open(this.pinDir())
    } catch (err) {
      throw new CheckFailure((err as Error).message, 'use the structs of ebpfcni_policy.h for keys and __u32 for values')
    }
  }

  /** A labelled pod on the learner's network, known to the policy layer. */
  async labelledPod(name: string, labels: Labels): Promise<CheckPod> {
    const pod = name === 'httpbin' ? await this.podA() : name === 'sleep' ? await this.podB() : await this.trafficPod(name, 'sleep', labels)
    if (!pod.outcome.ok || !pod.ip) throw new CheckSkip(`needs pods with addresses (pod ${name}: ${pod.outcome.problem ?? 'no address'})`)
    if (!this.podSource.list().some((p) => p.name === name)) this.podSource.add({name, ip: pod.ip, labels})
    return pod
  }

  /** Forget a pod: DEL it and tell the policy layer. */
  async dropPod(pod: CheckPod): Promise<void> {
    await this.detach(pod)
    this.podSource.remove(pod.name)
  }

  /** Packets dropped so far (the drops map, summed over CPUs). */
  drops(): bigint {
    const pin = join(this.pinDir(), 'drops')
    if (!existsSync(pin)) throw new CheckFailure(`no drops map is pinned at ${pin}`, 'declare a BPF_MAP_TYPE_PERCPU_ARRAY named drops with one __u64 at key 0')
    const fd = objGet(pin)
    try {
      const info = mapInfo(fd)
      if (info.keySize !== 4 || info.valueSize !== 8) throw new CheckFailure(`drops has a ${info.keySize}-byte key and a ${info.valueSize}-byte value; expected __u32 key, __u64 value`)
      const v = mapLookup(fd, Buffer.alloc(4), valueBufferSize(info))
      return v ? counterValue(v, info) : 0n
    } finally {
      closeFd(fd)
    }
  }

  protected async removeAll(): Promise<void> {
    try {
      this.restoreRules()
    } finally {
      await super.removeAll()
    }
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
    const desired: Desired | undefined = !mode ? undefined
      : !this.saved ? {mode, pairs: new Map(), portPairs: new Map(), isolated: new Set(), identities: new Map()}
      : this.saved.mode === mode ? {mode, ...this.saved.current} : undefined
    if (desired) {
      try {
        const maps = PolicyMaps.open(pinDir)
        maps.sync(desired)
        maps.close()
      } catch {
        // A map of the wrong shape: nothing of ours, or the learner's, fits in it.
      }
    }
  }
}
