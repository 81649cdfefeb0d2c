import type {NetworkConfig} from '../cni/config.js'
import type {InvokeRequest} from '../cni/invoke.js'
import {describeCode} from '../cni/spec.js'
import {run} from '../host/exec.js'
import type {CheckPod, CheckPods} from './check-pods.js'

// What the CNI spec asks of every plugin, as lab 1 and `conform` both check it: refusals with the
// spec's error JSON, DEL that succeeds when things are already gone, concurrent ADDs that get
// distinct addresses. Each returns what it saw; the check decides how to word the failure.

export interface ErrorCase {
  label: string
  call: Omit<InvokeRequest, 'cniPath' | 'timeoutMs'>
  /** The spec's error code the call must give. */
  code: number
  /** A word the error's msg or details must contain (the variable it names). */
  mention?: string
}

/**
 * Each refusal that is not one: exit 0, no error JSON, the wrong code, or a message naming nothing.
 * Calls that failed for the same reason are one line naming them all: one cause, said once.
 */
export async function errorCaseProblems(pods: CheckPods, cases: ErrorCase[]): Promise<string[]> {
  const outcomes = await Promise.all(cases.map((c) => pods.invoke(c.call, c.label)))
  const byProblem = new Map<string, string[]>()
  cases.forEach((c, i) => {
    const problem = refusalProblem(c, outcomes[i])
    if (problem) byProblem.set(problem, [...(byProblem.get(problem) ?? []), c.label])
  })
  return [...byProblem].map(([problem, labels]) =>
    labels.length === 1 ? `${labels[0]}: ${problem}` : `${labels.join(', ')} (${labels.length} calls): ${problem}`,
  )
}

function refusalProblem(c: ErrorCase, out: Awaited<ReturnType<CheckPods['invoke']>>): string | undefined {
  if (!out.run) return out.problem
  if (out.run.exitCode === 0) return `exited 0; expected a non-zero exit with error code ${describeCode(c.code)}`
  if (!out.error) return out.problem
  if (out.error.code !== c.code) return `error code ${describeCode(out.error.code)}; expected ${describeCode(c.code)}`
  if (c.mention && !`${out.error.msg} ${out.error.details ?? ''}`.includes(c.mention))
    return `the error (${JSON.stringify(out.error.msg)}) should name ${c.mention}`
  return undefined
}

/** What DEL did where everything was already gone. */
export interface DelWhenGone {
  /** A second DEL of a pod already DELeted: the problem, if it failed. */
  second?: string
  /** A DEL after the pod's netns was deleted: the problem, if it failed. */
  netnsGone?: string
  /** Why the netns-gone case could not be tried (its ADD failed). */
  skipped?: string
}

/** DEL `deleted` (already DELeted once) again, then ADD a pod, delete its netns, and DEL it. */
export async function delWhenGone(
  pods: CheckPods,
  net: NetworkConfig,
  deleted: CheckPod,
  label: string,
): Promise<DelWhenGone> {
  // The second DEL and the next pod's ADD at once: no ADD meets another (the allocator may have no lock).
  const [againRun, qRun] = await Promise.allSettled([pods.detach(deleted, {keepNetns: true}), pods.attach(net, label)])
  if (againRun.status === 'rejected') throw againRun.reason
  if (qRun.status === 'rejected') throw qRun.reason
  const [again, q] = [againRun.value, qRun.value]
  const seen: DelWhenGone = again.ok ? {} : {second: again.problem ?? 'DEL failed'}
  if (!q.outcome.ok) return {...seen, skipped: `needs a second successful ADD (${q.outcome.problem})`}
  // Plainly, as a runtime's teardown does: the plugin's DEL must cope with what that leaves.
  await run('ip', ['netns', 'del', q.netnsName], {timeoutMs: 5000})
  const gone = await pods.detach(q, {keepNetns: true})
  return gone.ok ? seen : {...seen, netnsGone: gone.problem ?? 'DEL failed'}
}

/** A wave of ADDs at once, and what came of it. */
export interface ConcurrentAdds {
  pods: CheckPod[]
  failed: CheckPod[]
  /** A failed pod whose call was killed at its deadline: a deadlock, not a refusal. */
  hung?: CheckPod
  slowestMs: number
  /** Addresses given to more than one pod. */
  duplicates: string[]
}

/** `count` ADDs for different containers at the same moment, each with `timeoutMs`. */
export async function concurrentAdds(
  pods: CheckPods,
  net: NetworkConfig,
  count: number,
  prefix: string,
  timeoutMs?: number,
): Promise<ConcurrentAdds> {
  const wave = await Promise.all(
    Array.from({length: count}, (_, i) => pods.attach(net, `${prefix}${i}`, {}, {timeoutMs})),
  )
  const failed = wave.filter((p) => !p.outcome.ok)
  return {
    pods: wave,
    failed,
    hung: failed.find((p) => p.outcome.calls.some((x) => x.run?.timedOut)),
    slowestMs: Math.max(0, ...wave.map((p) => p.outcome.calls.at(-1)?.run?.durationMs ?? 0)),
    duplicates: duplicateAddresses(wave.map((p) => p.ip ?? '').filter(Boolean)),
  }
}

/** Addresses that appear more than once. */
export function duplicateAddresses(ips: string[]): string[] {
  return [...new Set(ips.filter((ip, i) => ips.indexOf(ip) !== i))]
}
