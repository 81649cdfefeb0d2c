import {run, ok, describeRun} from '../host/exec.js'

// Forwarding pods' packets in eBPF, without the bridge and the host stack (as Cilium's BPF host
// routing does), needs TC helpers that older kernels lack. Each is probed
// (bpftool feature probe: a test load per helper), and a missing one is named with the kernel that
// added it (versions: bcc's docs/kernel-versions.md, from the commits that added them),
// never a silent fallback to the bridge (cilium #18120 is what a silent fallback costs).

export interface ForwardingHelper {
  name: string
  /** The kernel version that added it for TC (sched_cls) programs. */
  since: string
  usedFor: string
}

export const FORWARDING_HELPERS: ForwardingHelper[] = [
  {name: 'bpf_redirect_peer', since: '5.10', usedFor: "delivery straight into a pod's network namespace"},
  {
    name: 'bpf_redirect_neigh',
    since: '5.10',
    usedFor: "sending to another node, MACs from the kernel's neighbour table",
  },
  {name: 'bpf_fib_lookup', since: '4.18', usedFor: "the kernel's routing table, read from TC"},
  {name: 'bpf_skb_set_tunnel_key', since: '4.3', usedFor: 'a tunnel key on a collect-metadata VXLAN device'},
]

/** Which of the helpers a `bpftool feature probe kernel -j` document says TC programs lack. */
export function missingHelpers(probe: unknown): ForwardingHelper[] {
  const helpers = (probe as {helpers?: Record<string, unknown>})?.helpers?.sched_cls_available_helpers
  const have = new Set(Array.isArray(helpers) ? helpers.map(String) : [])
  return FORWARDING_HELPERS.filter((h) => !have.has(h.name))
}

/** "bpf_redirect_peer (kernel 5.10+, for …)": what a missing helper means, for a message. */
export const describeMissing = (helper: ForwardingHelper): string =>
  `${helper.name} (kernel ${helper.since}+, for ${helper.usedFor})`

/** Probe this kernel: the helpers TC programs lack, or why the probe could not run. */
export async function probeForwardingHelpers(): Promise<{missing: ForwardingHelper[]} | {error: string}> {
  const r = await run('bpftool', ['feature', 'probe', 'kernel', '-j'], {
    timeoutMs: 20_000,
    maxOutputBytes: 4 * 1024 * 1024,
  })
  if (!ok(r)) return {error: describeRun(r)}
  try {
    return {missing: missingHelpers(JSON.parse(r.stdout))}
  } catch {
    return {error: 'bpftool feature probe printed something that is not JSON'}
  }
}
