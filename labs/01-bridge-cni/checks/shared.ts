// What several of lab 1's step files share: helpers, constants, probes.
import {hostPeer, link} from '#net/ip.js'
import {run} from '#host/exec.js'
import {CheckSkip, fail} from '#checks/engine.js'
import {type Lab1Context} from '../context.js'
import {type ErrorCase} from '#checks/cni-assertions.js'
import {type CheckPod} from '#checks/check-pods.js'
// Lab 1's checks. Each proves one thing about the learner's plugin through the real CNI
// path, and fails with what was seen vs what was expected.

/** The pod-side interface from a result: the one with a sandbox, or named CNI_IFNAME. */
export function podIface(pod: CheckPod): {name: string; mac?: string} | undefined {
  const ifs = pod.outcome.result?.interfaces ?? []
  return ifs.find((i) => i.sandbox) ?? ifs.find((i) => i.name === pod.att.ifname)
}

export async function podLink(pod: CheckPod) {
  return link(pod.att.ifname, pod.netnsName)
}

export const hostEnd = (pod: CheckPod) => hostPeer(pod.netnsPath, pod.att.ifname)

/** A call of the learner's plugin that must be refused: ADD on a pod that is never made, unless overridden. */
export const refusedCall = (
  ctx: Lab1Context,
  label: string,
  opts: {
    env?: Partial<Record<'containerId' | 'netns' | 'ifname', string | undefined>>
    stdin?: Record<string, unknown>
    stdinRaw?: string
    command?: string
  },
  want: {code: number; mention?: string},
): ErrorCase => ({
  label,
  ...want,
  call: {
    command: (opts.command ?? 'ADD') as 'ADD',
    type: 'ebpfcni',
    stdin: opts.stdin ?? {...ctx.plugin.learnerNet().raw},
    stdinRaw: opts.stdinRaw,
    containerId: opts.env && 'containerId' in opts.env ? opts.env.containerId : 'ebpfcni-check-errors',
    netns: opts.env && 'netns' in opts.env ? opts.env.netns : '/run/netns/ebpfcni-check-none',
    ifname: opts.env && 'ifname' in opts.env ? opts.env.ifname : 'eth0',
  },
})

/**
 * An optional runtime's check: skipped when its program is not installed, unless the run asked for
 * that runtime (then it is a failure); and not run at all once the plugin has hung.
 */
export async function requireRuntime(
  ctx: Lab1Context,
  runtime: 'podman' | 'cri',
  program: string,
  packages: string,
): Promise<void> {
  const have = await run(program, ['--version'], {timeoutMs: 5000})
  if (have.startError) {
    if (ctx.plugin.opts.runtime === runtime)
      fail(`${program} is not installed`, `apt-get install -y ${packages} (or bash scripts/setup.sh)`)
    throw new CheckSkip(`${program} is not installed (pass --runtime ${runtime} to require it)`)
  }
  ctx.pods.assertNotHung()
}

/** What to look at when containerd could not make a sandbox on the learner's plugin. */
export function criHint(seen: string): string {
  if (/CNI_ARGS|K8S_POD|unknown (arg|key)/i.test(seen))
    return 'containerd passes K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID and K8S_POD_UID in CNI_ARGS, with IgnoreUnknown=1: a plugin must ignore keys it does not use'
  if (/loopback/.test(seen))
    return 'containerd runs the loopback plugin for every pod: ln -s /usr/lib/cni/loopback /opt/cni/bin/loopback'
  if (/failed to find network info|interface|eth0/i.test(seen))
    return "containerd reads the pod IP from the result's interface named CNI_IFNAME (eth0): create and report exactly that interface"
  return 'this is the error the kubelet would show in `kubectl describe pod` (FailedCreatePodSandBox). containerd calls your plugin with no VERSION first, CNI_IFNAME=eth0, and K8S_* keys in CNI_ARGS'
}

export const DEL_WITHOUT_NETNS_HINT =
  'DEL needs no CNI_NETNS: a runtime calls DEL after the pod\'s netns is gone (containerd passes CNI_NETNS empty), and DEL must still succeed. Refuse a missing CNI_NETNS on ADD and CHECK only: [ "$CNI_COMMAND" = DEL ] || [ -n "${CNI_NETNS:-}" ] || error 4 "CNI_NETNS is not set"'

/**
 * DEL with CNI_NETNS empty, as containerd sends it on RemovePodSandbox: the spec lists CNI_NETNS
 * among DEL's optional parameters, so DEL must succeed. Judged by the exit code alone, as libcni
 * does for DEL (it reads no DEL output). A problem line, or undefined when it succeeded. Asked once
 * per run (cni.errors and cni.del.idempotent both ask): on the same plugin and config moments later,
 * the call could only give its answer again.
 */
export function delWithoutNetnsProblem(ctx: Lab1Context): Promise<string | undefined> {
  return ctx.pods.once('del-without-netns', () => delWithoutNetns(ctx))
}

async function delWithoutNetns(ctx: Lab1Context): Promise<string | undefined> {
  const del = await ctx.pods.invoke(
    {
      command: 'DEL',
      type: 'ebpfcni',
      stdin: {...ctx.plugin.learnerNet().raw},
      containerId: 'ebpfcni-check-del-no-netns',
      netns: '',
      ifname: 'eth0',
    },
    'DEL with CNI_NETNS empty',
  )
  if (del.run && !del.run.timedOut && !del.run.signal && !del.run.startError && del.run.exitCode === 0) return undefined
  return `DEL with CNI_NETNS empty (a runtime's DEL once the pod's netns is gone): ${del.problem ?? 'it failed'}`
}

/** "the first DEL failed: …" (a DEL that exits 0 succeeded, whatever it printed: #cni/invoke.js). */
export const delProblem = (which: string, problem: string | undefined): string =>
  `${which} failed: ${problem ?? 'it failed'}`
