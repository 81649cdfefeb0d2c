import {closeSync, constants as fsConstants, openSync} from 'node:fs'
import {constants} from 'node:os'
import {check, ffi} from './ffi.js'

// Attaching programs to interfaces: XDP (generic or native mode) and TC (clsact ingress or
// egress), and what each kind of program returns; and to cgroups (v2): socket-address hooks.

const b = ffi

export const XDP_FLAGS = {UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8, REPLACE: 16} as const

export function xdpAttach(ifindex: number, progFd: number, flags: number): void {
  check(`attaching XDP to ifindex ${ifindex}`, b().xdpAttach(ifindex, progFd, flags, null))
}

export function xdpDetach(ifindex: number, flags: number): void {
  check(`detaching XDP from ifindex ${ifindex}`, b().xdpDetach(ifindex, flags, null))
}

/** The id of the XDP program attached in the given mode (0 when none). */
export function xdpQueryId(ifindex: number, flags: number): number {
  const out = [0]
  check(`querying XDP on ifindex ${ifindex}`, b().xdpQueryId(ifindex, flags, out))
  return out[0]
}

export type TcDirection = 'ingress' | 'egress'
const TC_POINT = {ingress: 1, egress: 2} as const

/** libbpf's bpf_tc_hook for one clsact direction of an interface. */
const tcHook = (ifindex: number, direction: TcDirection): Record<string, unknown> => ({
  sz: b().structs.tcHook.size,
  ifindex,
  attach_point: TC_POINT[direction],
  parent: 0,
})

/** libbpf's bpf_tc_opts at the handle and priority tcAttach uses (1, 1 unless given); prog_id is filled in. */
const tcOpts = (
  opts: {handle?: number; priority?: number},
  set: {prog_fd?: number; flags?: number} = {},
): Record<string, unknown> => ({
  sz: b().structs.tcOpts.size,
  prog_fd: set.prog_fd ?? 0,
  flags: set.flags ?? 0,
  prog_id: 0,
  handle: opts.handle ?? 1,
  priority: opts.priority ?? 1,
})

/**
 * Attach a TC (clsact) program: the clsact qdisc is created if missing (EEXIST is fine).
 * Returns the attached program id. On a pod's host veth, egress sees what goes to the pod.
 */
export function tcAttach(
  ifindex: number,
  direction: TcDirection,
  progFd: number,
  opts: {handle?: number; priority?: number; replace?: boolean} = {},
): number {
  const hook = tcHook(ifindex, direction)
  const rc = b().tcHookCreate(hook) as number
  if (rc < 0 && rc !== -constants.errno.EEXIST) check(`creating the clsact hook on ifindex ${ifindex}`, rc)
  // BPF_TC_F_REPLACE: swap the program at this handle and priority in place (no gap without one).
  const o = tcOpts(opts, {prog_fd: progFd, flags: opts.replace ? 1 : 0})
  check(`attaching TC ${direction} on ifindex ${ifindex}`, b().tcAttach(hook, o))
  return Number(o.prog_id)
}

export function tcDetach(
  ifindex: number,
  direction: TcDirection,
  opts: {handle?: number; priority?: number} = {},
): void {
  check(`detaching TC ${direction} on ifindex ${ifindex}`, b().tcDetach(tcHook(ifindex, direction), tcOpts(opts)))
}

/** The id of the TC program at the handle and priority tcAttach uses; 0 when there is none (or no clsact). */
export function tcQueryId(
  ifindex: number,
  direction: TcDirection,
  opts: {handle?: number; priority?: number} = {},
): number {
  const o = tcOpts(opts)
  return (b().tcQuery(tcHook(ifindex, direction), o) as number) < 0 ? 0 : Number(o.prog_id)
}

/** Remove the clsact qdisc (both directions) and everything attached to it. */
export function tcHookDestroy(ifindex: number): void {
  const rc = b().tcHookDestroy({
    sz: b().structs.tcHook.size,
    ifindex,
    attach_point: TC_POINT.ingress | TC_POINT.egress,
    parent: 0,
  }) as number
  if (rc < 0 && rc !== -constants.errno.ENOENT && rc !== -constants.errno.EINVAL)
    check(`removing clsact from ifindex ${ifindex}`, rc)
}

/**
 * linux/bpf.h enum bpf_attach_type: the cgroup socket-address hooks (kernel 4.17; getpeername4
 * 5.8), which run when a process of the cgroup (or of any cgroup under it) calls connect() etc.
 */
export const CGROUP_HOOK = {connect4: 10, sendmsg4: 14, recvmsg4: 19, getpeername4: 29} as const
export type CgroupHook = keyof typeof CGROUP_HOOK
/** BPF_F_ALLOW_MULTI: programs attached below (or beside) this one run too. */
const BPF_F_ALLOW_MULTI = 2

/** Attach a cgroup program (BPF_PROG_ATTACH) to the cgroup v2 directory `cgroupDir`. */
export function cgroupAttach(cgroupDir: string, hook: CgroupHook, progFd: number): void {
  const fd = openSync(cgroupDir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY)
  try {
    check(
      `attaching ${hook} to the cgroup ${cgroupDir}`,
      b().progAttach(progFd, fd, CGROUP_HOOK[hook], BPF_F_ALLOW_MULTI),
    )
  } finally {
    closeSync(fd)
  }
}

/** Detach that program from the cgroup (it also goes when the cgroup is removed). */
export function cgroupDetach(cgroupDir: string, hook: CgroupHook, progFd: number): void {
  const fd = openSync(cgroupDir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY)
  try {
    check(`detaching ${hook} from the cgroup ${cgroupDir}`, b().progDetach2(progFd, fd, CGROUP_HOOK[hook]))
  } finally {
    closeSync(fd)
  }
}

export const XDP_VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const
export const XDP_ACT = {ABORTED: 0, DROP: 1, PASS: 2} as const
export const xdpVerdictName = (n: number): string => XDP_VERDICTS[n] ?? `verdict ${n} (no XDP_ action)`
/** A TC (sched_cls, direct-action) program's verdicts: linux/pkt_cls.h. */
export const TC_ACT = {UNSPEC: -1, OK: 0, RECLASSIFY: 1, SHOT: 2} as const
const TC_VERDICTS: Record<number, string> = {
  0: 'TC_ACT_OK',
  1: 'TC_ACT_RECLASSIFY',
  2: 'TC_ACT_SHOT',
  3: 'TC_ACT_PIPE',
  4: 'TC_ACT_STOLEN',
  5: 'TC_ACT_QUEUED',
  6: 'TC_ACT_REPEAT',
  7: 'TC_ACT_REDIRECT',
  8: 'TC_ACT_TRAP',
}
/**
 * A TC verdict by name. 1 says more: it is XDP_DROP's value, returned by a TC program that meant to
 * drop (a shared drop() helper). cls_bpf in direct-action mode takes any code it does not know
 * (1, TC_ACT_RECLASSIFY, among them) as TC_ACT_UNSPEC and the packet goes on; tcx as "next".
 */
export const tcVerdictName = (n: number): string =>
  n === TC_ACT.UNSPEC || n === 0xffffffff
    ? 'TC_ACT_UNSPEC'
    : n === TC_ACT.RECLASSIFY
      ? "TC_ACT_RECLASSIFY (1, XDP_DROP's value; the kernel takes it as unspecified and the packet goes on: a TC program drops with TC_ACT_SHOT)"
      : (TC_VERDICTS[n] ?? `verdict ${n} (no TC_ACT_ value)`)
