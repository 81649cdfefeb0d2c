import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {link, linkDel, neighForget, netnsAdd, netnsDel, netnsPath} from '../net/ip.js'
import type {NetworkConfig} from '../cni/config.js'
import {addNetworkList, checkNetworkList, delNetworkList, type Attachment, type NetworkOutcome} from '../cni/network.js'
import {invokePlugin, type InvokeOutcome, type InvokeRequest} from '../cni/invoke.js'
import {podIp} from '../cni/result.js'
import {CheckSkip} from './engine.js'
import {interrupted, onInterrupt} from '../host/interrupt.js'
import {currentCheck} from '../host/check-scope.js'

/** The first plugin call that was killed for not finishing: once seen, nothing else waits on it. */
export interface PluginHang {
  /** Which call, e.g. `ADD (pod "httpbin")`. */
  call: string
  afterMs: number
}

/**
 * A concurrency wave's per-call deadline. A queue of ADDs behind one lock is slow, not hung:
 * containerd and the kubelet give a sandbox minutes, so a wave gets two, not the single call's 10 s.
 */
export const WAVE_TIMEOUT_MS = 120_000

/** How long cleanup waits for each DEL once the plugin is known to hang (its netns goes regardless). */
const DEL_AFTER_HANG_MS = 2000

export interface CheckPod {
  name: string
  netnsName: string
  netnsPath: string
  att: Attachment
  net: NetworkConfig
  outcome: NetworkOutcome
  ip?: string
  /** Its life in the pod history (ended when the pod goes). */
  historyId?: string
  /** Set for a pod made through another runtime (CRI): how to remove it instead of DEL + netns. */
  removeVia?: () => Promise<void>
  /** A link named like the pod's interface was on the host before its ADD (so it is never the ADD's). */
  ifnameOnHostBefore?: boolean
  /** Its last DEL succeeded: removing it takes its netns only. */
  deleted?: boolean
}

/** A check pod whose ADD gave it an address. */
export type AddressedPod = CheckPod & {ip: string}
export const addressed = (p: CheckPod): p is AddressedPod => typeof p.ip === 'string' && p.ip !== ''

/**
 * Pods made by checks: a netns each (in the ledger before it exists), ADDed straight
 * through the CNI layer so a failing plugin's outcome is kept rather than thrown.
 * cleanup() DELs and removes everything, whatever the checks left.
 */
export class CheckPods {
  readonly ledger: Ledger
  readonly tmp: string
  /** The ledger entry of `tmp`, settled when the run cleans up after itself. */
  private readonly tmpEntry: string
  private readonly pods: CheckPod[] = []
  private readonly memo = new Map<string, Promise<unknown>>()
  private seq = 0
  /** Set by the first call that had to be killed; later plugin calls are skipped, not awaited. */
  hang?: PluginHang
  /** Attaches under way: cleanup waits for them so a pod being made on Ctrl-C is removed too. */
  private readonly inflight = new Set<Promise<unknown>>()
  private cleaning?: Promise<void>
  private readonly unregisterInterrupt: () => void
  /** What the run's fixtures undo, before and after the pods go (see onCleanup). */
  private readonly beforePods: Array<() => Promise<void> | void> = []
  private readonly afterPods: Array<() => Promise<void> | void> = []
  /** Namespaces made ahead (warmNetns), for the next attaches to take in turn. */
  private readonly warm: Array<Promise<string>> = []

  constructor(
    readonly cniPath: string[],
    readonly timeoutMs: number,
    /** The ledger owner of everything this run makes. */
    readonly checkOwner: string,
    /** The lab whose checks these are. */
    readonly labId?: number,
    ledger?: Ledger,
  ) {
    this.ledger = ledger ?? new Ledger()
    this.tmp = mkdtempSync(join(tmpdir(), `ebpfcni-${checkOwner.replace(/\W+/g, '-')}-`))
    // In the ledger, so a run killed with SIGKILL leaves reset a way to remove it too.
    this.tmpEntry = this.ledger.record('dir', this.tmp, {lab: labId, owner: checkOwner, details: {scratch: true}}).id
    this.unregisterInterrupt = onInterrupt(() => this.cleanup())
  }

  /** Make a netns and ADD it to a network; failures are in the outcome, not thrown. */
  async attach(
    net: NetworkConfig,
    label: string,
    overrides: Partial<Attachment> = {},
    opts: {timeoutMs?: number} = {},
  ): Promise<CheckPod> {
    this.assertNotHung()
    const work = this.attachNow(net, label, overrides, opts)
    this.inflight.add(work)
    try {
      return await work
    } finally {
      this.inflight.delete(work)
    }
  }

  /**
   * Make `count` netns now, all at once, for the next attaches to take in turn: a check that ADDs
   * pods one after another (the plugin's allocator may have no lock) then waits for each ADD only,
   * not for an `ip netns add` before each. Cleanup removes any left untaken.
   */
  warmNetns(count: number): void {
    for (let i = 0; i < count; i++) {
      const made = this.makeNetns(this.seq++)
      made.catch(() => undefined)
      this.warm.push(made)
    }
  }

  /** The run's netns number `n`, recorded in the ledger first (a crash leaves it named), then made. */
  private async makeNetns(n: number): Promise<string> {
    const name = `ebpfcni-chk${process.pid % 10000}-${n}`
    this.ledger.record('netns', name, {lab: this.labId, owner: this.checkOwner})
    await netnsAdd(name)
    return name
  }

  private async attachNow(
    net: NetworkConfig,
    label: string,
    overrides: Partial<Attachment>,
    opts: {timeoutMs?: number},
  ): Promise<CheckPod> {
    const n = this.seq++
    const from = Date.now()
    const netnsName = await (this.warm.shift() ?? this.makeNetns(n))
    const att: Attachment = {
      containerId: `ebpfcni-check-${label}-${n}`,
      netns: netnsPath(netnsName),
      ifname: 'eth0',
      args: `IgnoreUnknown=1;K8S_POD_NAME=${label}`,
      ...overrides,
    }
    // A sysfs stat, not an `ip` call: waves make dozens of pods.
    const ifnameOnHostBefore = existsSync(`/sys/class/net/${att.ifname}`)
    const outcome = await addNetworkList(net, att, {
      cniPath: this.cniPath,
      timeoutMs: opts.timeoutMs ?? this.timeoutMs,
      negotiate: false,
    })
    this.noteCalls(outcome.calls, `pod "${label}"`)
    const pod: CheckPod = {
      name: label,
      netnsName,
      netnsPath: netnsPath(netnsName),
      att,
      net,
      outcome,
      ip: outcome.ok ? podIp(outcome.result) : undefined,
      ifnameOnHostBefore,
    }
    this.pods.push(pod)
    // Its life in the pod history: observe marks its flows as this check's, and never credits them
    // to a pod of the attendee's that holds the address later.
    if (pod.ip)
      this.ledger.podBegan({
        id: `${netnsName}@${from}`,
        name: label,
        ip: pod.ip,
        labels: {},
        netns: pod.netnsPath,
        check: this.checkLabel(),
        from,
      })
    pod.historyId = `${netnsName}@${from}`
    return pod
  }

  /**
   * A failed ADD that made the veth pair before moving the pod's end leaves both ends on the host, where
   * the netns removal cannot take them; the learner's DEL is a TODO until lab 1's third step, and their
   * next run then meets its own leftover ("File exists") under a name derived from the same container ID.
   * Only a veth named like the pod's interface that was not on the host before this pod's ADD goes (its
   * peer with it); the check's hint has already read it.
   */
  private async removeStrayPodEnd(pod: CheckPod): Promise<void> {
    if (pod.ifnameOnHostBefore !== false) return
    const stray = await link(pod.att.ifname).catch(() => undefined)
    if (stray?.linkinfo?.info_kind === 'veth') await linkDel(pod.att.ifname).catch(() => undefined)
  }

  /** Which check made what is made now: "4/policy.isolated" (the lab and the running check's id). */
  private checkLabel(): string {
    const check = currentCheck() ?? 'fixture'
    return this.labId === undefined ? check : `${this.labId}/${check}`
  }

  /** DEL a pod (with its cached result) and, unless kept, remove its netns. Returns the DEL outcome. */
  async detach(pod: CheckPod, opts: {keepNetns?: boolean} = {}): Promise<NetworkOutcome> {
    if (pod.removeVia) {
      await pod.removeVia()
      this.pods.splice(this.pods.indexOf(pod), 1)
      return {ok: true, command: 'DEL', calls: []}
    }
    // Once its DEL succeeded (a check kept the netns to look in), the pod goes with its netns: a
    // runtime does not DEL it again to remove it. A check that wants a second DEL keeps the netns.
    const del: NetworkOutcome =
      pod.deleted && !opts.keepNetns ? {ok: true, command: 'DEL', calls: []} : await this.delNow(pod)
    if (!opts.keepNetns) {
      await netnsDel(pod.netnsName)
      this.ledger.forgetWhere((e) => e.kind === 'netns' && e.name === pod.netnsName)
      this.pods.splice(this.pods.indexOf(pod), 1)
    }
    return del
  }

  private async delNow(pod: CheckPod): Promise<NetworkOutcome> {
    const timeoutMs = this.hang || interrupted() ? DEL_AFTER_HANG_MS : this.timeoutMs
    const del = await delNetworkList(pod.net, pod.att, {cniPath: this.cniPath, timeoutMs}, cachedAddResult(pod.outcome))
    this.noteCalls(del.calls, `pod "${pod.name}"`)
    pod.deleted = del.ok
    if (!pod.outcome.ok) await this.removeStrayPodEnd(pod)
    // The learner's bridge outlives the check's pods: the next check's pod at this address must not
    // meet the node's entry for this one's MAC.
    if (pod.ip) await neighForget(pod.ip)
    if (pod.historyId) this.ledger.podEnded(pod.historyId)
    return del
  }

  /** CHECK a pod with its ADD result as prevResult, under the same hang watch as pods. */
  async check(pod: CheckPod, label: string): Promise<NetworkOutcome> {
    this.assertNotHung()
    const out = await checkNetworkList(
      pod.net,
      pod.att,
      {cniPath: this.cniPath, timeoutMs: this.timeoutMs},
      pod.outcome.result,
    )
    this.noteCalls(out.calls, label)
    return out
  }

  /** Take charge of a pod made elsewhere (a CRI pod): cleanup removes it with the rest. */
  adopt(pod: CheckPod): CheckPod {
    this.pods.push(pod)
    return pod
  }

  /** One plugin call by hand (errors, VERSION, duplicates), under the same hang watch as pods. */
  async invoke(
    req: Omit<InvokeRequest, 'cniPath' | 'timeoutMs'> & {timeoutMs?: number},
    label: string,
  ): Promise<InvokeOutcome> {
    this.assertNotHung()
    const out = await invokePlugin({timeoutMs: this.timeoutMs, ...req, cniPath: this.cniPath})
    this.noteCalls([out], label)
    return out
  }

  /** Record the first call killed at its deadline. */
  noteCalls(calls: InvokeOutcome[], label: string): void {
    const killed = calls.find((c) => c.run?.timedOut)
    if (killed && !this.hang)
      this.hang = {call: `${killed.request.command} (${label})`, afterMs: Math.round(killed.run!.durationMs)}
  }

  /** Skip, at once, work that needs a plugin call once one call has hung. */
  assertNotHung(): void {
    if (interrupted()) throw new CheckSkip('interrupted')
    if (this.hang) {
      throw new CheckSkip(
        `not run: your plugin hung earlier in this run (${this.hang.call} was killed after ${(this.hang.afterMs / 1000).toFixed(1)} s); fix the hang first`,
      )
    }
  }

  /** Memoize shared fixtures across the checks of one run. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.memo.has(key)) this.memo.set(key, make())
    return this.memo.get(key) as Promise<T>
  }

  /**
   * A fixture's undo, run by cleanup(): `before` the pods are DELeted (the fixture made last runs
   * first, so what builds on the pods goes before them), or `after` (what the pods stood on:
   * bridges, allocation state). One undo failing does not stop the others.
   */
  onCleanup(when: 'before-pods' | 'after-pods', undo: () => Promise<void> | void): void {
    if (when === 'before-pods') this.beforePods.unshift(undo)
    else this.afterPods.push(undo)
  }

  /** Remove every pod and netns this run made; safe to call twice (Ctrl-C and the normal end). */
  cleanup(): Promise<void> {
    this.cleaning ??= this.removeAll()
    return this.cleaning
  }

  private async removeAll(): Promise<void> {
    // Registered until the end: Ctrl-C during this removal waits for it (cleanup() returns this same
    // promise), where unregistering first made the process exit half-way and leave the rest.
    try {
      await this.removeEverything()
    } finally {
      this.unregisterInterrupt()
    }
  }

  private async removeEverything(): Promise<void> {
    await Promise.allSettled([...this.inflight, ...this.warm])
    for (const undo of this.beforePods)
      await Promise.resolve()
        .then(undo)
        .catch(() => undefined)
    // DEL a few at a time: an IPAM check alone can leave 70 pods.
    const left = [...this.pods].reverse()
    for (let i = 0; i < left.length; i += 8)
      await Promise.all(left.slice(i, i + 8).map((p) => this.detach(p).catch(() => undefined)))
    // Only the netns this run recorded: other kinds it owns (processes, pins) are undone by their fixtures.
    for (const e of this.ledger.find((x) => x.owner === this.checkOwner && x.kind === 'netns')) {
      await netnsDel(e.name).catch(() => undefined)
      this.ledger.forget([e.id])
    }
    for (const undo of this.afterPods)
      await Promise.resolve()
        .then(undo)
        .catch(() => undefined)
    rmSync(this.tmp, {recursive: true, force: true})
    this.ledger.forget([this.tmpEntry])
  }
}

/**
 * What a runtime would have cached from this ADD: its result, or the last ADD call's output when that call
 * succeeded but its result broke the spec. A failed ADD caches nothing (libcni), so its error JSON is never
 * handed to DEL as prevResult.
 */
function cachedAddResult(outcome: NetworkOutcome): unknown {
  if (outcome.result !== undefined) return outcome.result
  const last = outcome.calls.at(-1)
  return last?.ok && last.request.command === 'ADD' ? last.json : undefined
}
