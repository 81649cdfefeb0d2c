import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {lab3Context, type Lab3Context, type PinnedProgram} from '../03-maps-monitoring/context.js'
import type {PluginFixture} from '../01-bridge-cni/context.js'
import type {ProgramOptions} from '../02-ebpf-basics/context.js'
import type {CheckPods} from '#checks/check-pods.js'
import {closeFd} from '#bpf/ffi.js'
import {mapDump, mapLookup, mapInfo, valueBufferSize} from '#bpf/map-ops.js'
import {objGet, testRun} from '#bpf/object.js'
import {TC_ACT, XDP_ACT, xdpVerdictName, tcVerdictName} from '#bpf/attach.js'
import {counterValue} from '#bpf/counters.js'
import {PolicyService} from '#policy/service.js'
import {PolicyStore} from '#policy/store.js'
import {MemoryPodSource} from '#policy/pods.js'
import {PolicyMaps, POLICY_MAPS, detectMode} from '#policy/maps.js'
import {TO_POD_PROGRAM} from '#policy/endpoints.js'
import {PolicyController} from '#policy/controller.js'
import type {Labels} from '#policy/networkpolicy.js'
import type {Desired} from '#policy/resolve.js'
import {CheckSkip, CheckFailure, fail} from '#checks/engine.js'
import {addressed, type AddressedPod, type CheckPod} from '#checks/check-pods.js'
import {LearnerPolicyState} from './learner-state.js'

/** What became of a frame on its way from one pod to another: the XDP verdict at the source, then to_pod's at the destination. */
export interface PathVerdict {
  dropped: boolean
  /** Where and how: "XDP_DROP at the source", "TC_ACT_SHOT at the destination", "passed". */
  how: string
  /** The program whose verdict ended the frame's path, when one did not pass it. */
  at?: 'xdp_prog' | 'to_pod'
}

export type ControllerFactory = (service: PolicyService) => PolicyController

export interface Lab4Options extends ProgramOptions {
  /** How policy.follows-pods gets its controller (tests swap in broken ones). */
  controller?: ControllerFactory
}

/**
 * The policy layer over the learner's pinned program: lab 4's fixture. The checks drive the
 * program through it, with their own pods (labelled) and their own policy state; the learner's
 * rules in the pinned maps are read before the load and written back in cleanup, so a check run
 * does not cost them their rules.
 */
export class PolicyFixture {
  readonly podSource = new MemoryPodSource()
  private policyService?: PolicyService
  /** The learner's rules and flows, kept across the run's loads and put back in cleanup. */
  private readonly learner = new LearnerPolicyState(() => this.pinDir())
  private readonly labelled = new Map<string, Promise<CheckPod>>()

  constructor(
    readonly pods: CheckPods,
    readonly plugin: PluginFixture,
    readonly pinned: PinnedProgram,
    readonly controller: ControllerFactory = (s) => new PolicyController(s, {debounceMs: 30}),
  ) {
    pinned.aroundDeploy({before: () => this.learner.save(), after: (out) => this.learner.dropStalePins(out)})
    pods.onCleanup('before-pods', () => this.learner.restore())
  }

  private pinDir(): string {
    return this.pinned.pinDir()
  }

  /** The pinned to_pod program, or a failure that says what the step needs. */
  async toPodPin(): Promise<string> {
    const d = await this.pinned.deployed()
    const p = d.programs.find((x) => x.name === TO_POD_PROGRAM)
    if (!p)
      fail(
        `your object has no TC program named ${TO_POD_PROGRAM} (its programs: ${d.programs.map((x) => x.name).join(', ') || 'none'})`,
        'add SEC("tc") int to_pod(struct __sk_buff *skb) { … } to ebpfcni.bpf.c: it judges what goes to a pod',
      )
    return p.pin
  }

  /** The keys of one of the learner's pinned maps, as bytes (for messages about lookups that miss). */
  mapKeys(name: string): Buffer[] {
    const pin = join(this.pinDir(), name)
    if (!existsSync(pin)) return []
    const fd = objGet(pin)
    try {
      return mapDump(fd).map((e) => e.key)
    } finally {
      closeFd(fd)
    }
  }

  /**
   * Which program holds the deny list: xdp_prog at the sender in the address-pair design (steps 1
   * to 3), to_pod at the receiver in the identity design, whose rules are per endpoint.
   */
  denyProgram(): 'xdp_prog' | 'to_pod' {
    return detectMode(this.pinDir()) === 'identity' ? 'to_pod' : 'xdp_prog'
  }

  /** Test-run the deny list's program on one frame `repeat` times (BPF_PROG_TEST_RUN: maps are updated each run). */
  testRunDeny(frame: Buffer, repeat: number): {program: 'xdp_prog' | 'to_pod'; verdict: string; dropped: boolean} {
    const program = this.denyProgram()
    const fd = objGet(program === 'xdp_prog' ? this.pinned.program.xdpPin() : join(this.pinDir(), TO_POD_PROGRAM))
    try {
      const v = testRun(fd, frame, repeat).retval
      return program === 'xdp_prog'
        ? {program, verdict: xdpVerdictName(v), dropped: v === XDP_ACT.DROP}
        : {program, verdict: tcVerdictName(v), dropped: v === TC_ACT.SHOT}
    } finally {
      closeFd(fd)
    }
  }

  /**
   * Run each frame the way a packet between two pods goes: the sender's XDP program, then (if
   * it passed and the object has one) to_pod at the receiver. Test runs use the real maps, so
   * the flows XDP records are there for the frames after.
   */
  path(frames: Buffer[]): PathVerdict[] {
    const xdp = objGet(this.pinned.program.xdpPin())
    const toPodPin = join(this.pinDir(), TO_POD_PROGRAM)
    const tc = existsSync(toPodPin) ? objGet(toPodPin) : undefined
    try {
      return frames.map((f) => {
        const x = testRun(xdp, f).retval
        if (x !== XDP_ACT.PASS)
          return {dropped: true, at: 'xdp_prog', how: `${xdpVerdictName(x)} at the source (xdp_prog)`}
        if (tc === undefined) return {dropped: false, how: 'passed'}
        const t = testRun(tc, f).retval
        if (t === TC_ACT.OK) return {dropped: false, how: 'passed'}
        return {dropped: t === TC_ACT.SHOT, at: 'to_pod', how: `${tcVerdictName(t)} at the destination (to_pod)`}
      })
    } finally {
      closeFd(xdp)
      if (tc !== undefined) closeFd(tc)
    }
  }

  /** to_pod alone on one frame, as if xdp_prog had not seen it (no flow recorded for it on the way). */
  toPodOnly(frame: Buffer): PathVerdict {
    const tc = objGet(join(this.pinDir(), TO_POD_PROGRAM))
    try {
      const t = testRun(tc, frame).retval
      if (t === TC_ACT.OK) return {dropped: false, how: 'passed'}
      return {dropped: t === TC_ACT.SHOT, at: 'to_pod', how: `${tcVerdictName(t)} at the destination (to_pod)`}
    } finally {
      closeFd(tc)
    }
  }

  /** The check run's policy service (its own state file, its own pods), over the learner's maps. */
  async service(): Promise<PolicyService> {
    const d = await this.pinned.deployed()
    if (!d.maps.some((m) => m.name === POLICY_MAPS['ip-pair'].pairs || m.name === POLICY_MAPS.identity.rules)) {
      throw new CheckSkip('needs the policy map (policy.test-run)')
    }
    this.policyService ??= new PolicyService({
      pinDir: this.pinDir(),
      store: new PolicyStore(join(this.pods.tmp, 'policy.json')),
      pods: this.podSource,
    })
    return this.policyService
  }

  /** Open the policy maps; a wrong layout fails the running check with what is wrong. */
  async maps(): Promise<PolicyMaps> {
    await this.service()
    try {
      return PolicyMaps.open(this.pinDir())
    } catch (err) {
      throw new CheckFailure(
        (err as Error).message,
        'use the structs of ebpfcni_policy.h for keys and __u32 for values',
      )
    }
  }

  /** What the policy maps hold now, and their design (a wrong layout fails the running check). */
  async readMaps(): Promise<Desired> {
    const maps = await this.maps()
    try {
      return {mode: maps.mode, ...maps.read()}
    } finally {
      maps.close()
    }
  }

  /** Fail the running check when the policy maps' layout is not ebpfcni_policy.h's. */
  async requireMapLayout(): Promise<void> {
    ;(await this.maps()).close()
  }

  /** A labelled pod on the learner's network, known to the policy layer. */
  async labelledPod(name: string, labels: Labels, workload: 'httpbin' | 'sleep' = 'sleep'): Promise<AddressedPod> {
    // One pod per name in a run: checks that share "other" share the pod the policy layer knows.
    let made = this.labelled.get(name)
    if (!made) {
      // sleep is made beside httpbin, not after its server is up as lab 1's pod B is: lab 4's
      // plugin locks its address allocation (lab 1's production step), and no check here needs
      // the two addresses in order.
      made =
        name === 'httpbin'
          ? this.plugin.podA()
          : name === 'sleep'
            ? this.plugin.trafficPod('sleep', 'sleep', {app: 'sleep'})
            : this.plugin.trafficPod(name, workload, labels)
      this.labelled.set(name, made)
    }
    const pod = await made
    if (!pod.outcome.ok || !addressed(pod))
      throw new CheckSkip(`needs pods with addresses (pod ${name}: ${pod.outcome.problem ?? 'no address'})`)
    if (!this.podSource.list().some((p) => p.name === name))
      this.podSource.add({name, ip: pod.ip, labels, netnsPath: pod.netnsPath})
    return pod
  }

  /** Forget a pod: DEL it and tell the policy layer. */
  async dropPod(pod: CheckPod): Promise<void> {
    await this.pods.detach(pod)
    this.labelled.delete(pod.name)
    this.podSource.remove(pod.name)
  }

  /** Packets dropped so far (the drops map, summed over CPUs). */
  drops(): bigint {
    const pin = join(this.pinDir(), 'drops')
    if (!existsSync(pin))
      throw new CheckFailure(
        `no drops map is pinned at ${pin}`,
        'declare a BPF_MAP_TYPE_PERCPU_ARRAY named drops with one __u64 at key 0',
      )
    const fd = objGet(pin)
    try {
      const info = mapInfo(fd)
      if (info.keySize !== 4 || info.valueSize !== 8)
        throw new CheckFailure(
          `drops has a ${info.keySize}-byte key and a ${info.valueSize}-byte value; expected __u32 key, __u64 value`,
        )
      const v = mapLookup(fd, Buffer.alloc(4), valueBufferSize(info))
      return v ? counterValue(v, info) : 0n
    } finally {
      closeFd(fd)
    }
  }
}

/** Lab 4's checks: lab 3's, plus the policy layer over the pinned program. */
export interface Lab4Context extends Lab3Context {
  policy: PolicyFixture
}

export function lab4Context(opts: Lab4Options): Lab4Context {
  const base = lab3Context(opts)
  return {...base, policy: new PolicyFixture(base.pods, base.plugin, base.pinned, opts.controller)}
}
