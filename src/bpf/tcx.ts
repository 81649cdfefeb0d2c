import {constants, release} from 'node:os'
import {existsSync, rmSync} from 'node:fs'
import type * as KoffiModule from 'koffi'
import {BpfError, check, closeFd, errnoName, ffi} from './ffi.js'
import {objGet} from './object.js'
import {attachments, type Attachment} from '../net/attachments.js'
import {link, links} from '../net/ip.js'
import {Ledger} from '../host/ledger.js'
import {UserError} from '../host/errors.js'

// tcx (kernel 6.6, commit e420bed02507): TC programs attached through a BPF link instead of a
// clsact qdisc's filter. The link is an object its maker owns (pinned, it outlives the process);
// `tc qdisc del … clsact` does not touch it, and several programs on one hook run in an order
// their owners choose (mprog). Called through the system's libbpf (1.1 on Debian 12, which has
// bpf_link_create but not yet bpf_program__attach_tcx: the attach type is passed as a number).

type Fn = ReturnType<KoffiModule.IKoffiLib['func']>

/** enum bpf_attach_type (linux/bpf.h). */
export const TCX_ATTACH = {ingress: 46, egress: 47} as const
/** mprog placement flags (linux/bpf.h): BPF_F_BEFORE, with no relative program, means first. */
const BPF_F_BEFORE = 1 << 3
const BPF_PROG_TYPE_SCHED_CLS = 3
/** struct bpf_link_info: type, id, prog_id, then the union (8-aligned): tcx {ifindex, attach_type}. */
const LINK_INFO_SIZE = 64
/** struct bpf_prog_info up to name[16] (offset 64). */
const PROG_INFO_SIZE = 80

export type TcxDirection = keyof typeof TCX_ATTACH

interface TcxBindings {
  linkCreate: Fn
  linkDetach: Fn
  linkUpdate: Fn
  objPin: Fn
  progQuery: Fn
  progLoad: Fn
  progFdById: Fn
  linkNextId: Fn
  linkFdById: Fn
}

let bound: TcxBindings | undefined

function t(): TcxBindings {
  if (bound) return bound
  const koffi = ffi().koffi
  const lib = koffi.load('libbpf.so.1')
  // libbpf 1.1's layouts: the options tcx needs (flags) are the first fields.
  koffi.struct('tcx_link_create_opts', {sz: 'size_t', flags: 'uint32_t', _pad: 'uint32_t'})
  koffi.struct('tcx_prog_query_opts', {
    sz: 'size_t',
    query_flags: 'uint32_t',
    attach_flags: 'uint32_t',
    prog_ids: 'void*',
    prog_cnt: 'uint32_t',
    prog_attach_flags: 'void*',
  })
  bound = {
    linkCreate: lib.func('int bpf_link_create(int, int, int, const tcx_link_create_opts*)'),
    linkDetach: lib.func('int bpf_link_detach(int)'),
    linkUpdate: lib.func('int bpf_link_update(int, int, void*)'),
    objPin: lib.func('int bpf_obj_pin(int, const char*)'),
    progQuery: lib.func('int bpf_prog_query_opts(int, int, _Inout_ tcx_prog_query_opts*)'),
    progLoad: lib.func('int bpf_prog_load(int, const char*, const char*, const void*, size_t, void*)'),
    progFdById: lib.func('int bpf_prog_get_fd_by_id(uint32_t)'),
    linkNextId: lib.func('int bpf_link_get_next_id(uint32_t, _Out_ uint32_t*)'),
    linkFdById: lib.func('int bpf_link_get_fd_by_id(uint32_t)'),
  }
  return bound
}

/** What the running kernel says about tcx: attached nowhere, a link to ifindex 0 is refused differently. */
export function probeTcx(): {ok: boolean; detail: string} {
  // r0 = -1 (TCX_NEXT); exit
  const insns = Buffer.from([0xb7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x95, 0, 0, 0, 0, 0, 0, 0])
  const prog = t().progLoad(BPF_PROG_TYPE_SCHED_CLS, 'tcx_probe', 'GPL', insns, 2, null) as number
  if (prog < 0) return {ok: false, detail: `could not load a probe program: ${errnoName(prog)}`}
  try {
    const rc = t().linkCreate(prog, 0, TCX_ATTACH.ingress, null) as number
    if (rc >= 0) {
      closeFd(rc)
      return {ok: true, detail: 'tcx links (6.6+)'}
    }
    // With tcx, the kernel looks for device 0 and finds none; without, it refuses the attach type.
    if (-rc === constants.errno.ENODEV) return {ok: true, detail: `kernel ${release()} has tcx links`}
    return {ok: false, detail: `kernel ${release()} refuses a tcx link (${errnoName(rc)}): tcx needs 6.6 or newer`}
  } finally {
    closeFd(prog)
  }
}

/** The path a tcx link is pinned at: next to its program, named by hook, device and program. */
export const tcxLinkPin = (progPin: string, dev: string, direction: TcxDirection): string => {
  const slash = progPin.lastIndexOf('/')
  return `${progPin.slice(0, slash)}/link_tcx_${direction}_${dev}_${progPin.slice(slash + 1)}`
}

/** A pinned link's kernel id and program id, and where it is attached (0 when the device is gone). */
export function linkInfo(fd: number): {type: number; id: number; progId: number; ifindex: number; attachType: number} {
  const buf = Buffer.alloc(LINK_INFO_SIZE)
  check('reading the link', ffi().objGetInfoByFd(fd, buf, [LINK_INFO_SIZE]) as number)
  return {
    type: buf.readUInt32LE(0),
    id: buf.readUInt32LE(4),
    progId: buf.readUInt32LE(8),
    ifindex: buf.readUInt32LE(16),
    attachType: buf.readUInt32LE(20),
  }
}

/**
 * Attach the pinned program at progPin to ifindex's tcx hook through a link pinned at linkPin.
 * A link already pinned there gets the program swapped in place (no gap). `first` puts a new
 * link before the programs already on the hook. Returns the link's and the program's ids.
 */
export function tcxAttach(
  progPin: string,
  ifindex: number,
  direction: TcxDirection,
  linkPin: string,
  opts: {first?: boolean} = {},
): {linkId: number; progId: number; updated: boolean} {
  const prog = objGet(progPin)
  try {
    if (existsSync(linkPin)) {
      const link = objGet(linkPin)
      try {
        const info = linkInfo(link)
        if (info.ifindex === ifindex && info.attachType === TCX_ATTACH[direction]) {
          check(`replacing the program of the tcx link ${linkPin}`, t().linkUpdate(link, prog, null) as number)
          return {...linkIds(link), updated: true}
        }
      } finally {
        closeFd(link)
      }
      // A link whose device went away (a pod deleted) is defunct: the new one takes its name.
      rmSync(linkPin)
    }
    const rc = t().linkCreate(prog, ifindex, TCX_ATTACH[direction], {
      sz: 16,
      flags: opts.first ? BPF_F_BEFORE : 0,
      _pad: 0,
    }) as number
    if (rc < 0) throw tcxError(rc, direction, ifindex)
    try {
      check(`pinning the tcx link at ${linkPin}`, t().objPin(rc, linkPin) as number)
      return {...linkIds(rc), updated: false}
    } finally {
      closeFd(rc)
    }
  } finally {
    closeFd(prog)
  }
}

function linkIds(fd: number): {linkId: number; progId: number} {
  const info = linkInfo(fd)
  return {linkId: info.id, progId: info.progId}
}

function tcxError(rc: number, direction: TcxDirection, ifindex: number): Error {
  const step = `attaching a tcx ${direction} link on ifindex ${ifindex}`
  if (-rc !== constants.errno.EINVAL) return new BpfError(step, -rc)
  const probe = probeTcx()
  if (!probe.ok)
    return new BpfError(
      step,
      -rc,
      `tcx needs kernel 6.6 or newer; this is ${release()}`,
      'attach through clsact instead: the same command without --tcx',
    )
  return new BpfError(
    step,
    -rc,
    'the kernel has tcx, so the program is the wrong kind',
    'tcx takes a TC program (SEC("tc") or "tcx/ingress"/"tcx/egress"), not an XDP one',
  )
}

/** Detach and unpin the tcx link pinned at linkPin; false when nothing was pinned there. */
export function tcxDetach(linkPin: string): boolean {
  if (!existsSync(linkPin)) return false
  const link = objGet(linkPin)
  try {
    // Detaching first: the link goes even if another process holds it open too.
    const rc = t().linkDetach(link) as number
    if (rc < 0 && -rc !== constants.errno.ENOLINK && -rc !== constants.errno.EINVAL)
      check(`detaching the tcx link ${linkPin}`, rc)
  } finally {
    closeFd(link)
  }
  rmSync(linkPin, {force: true})
  return true
}

/** The programs on one device's tcx hook, in the order they run (empty without tcx). */
export function tcxPrograms(ifindex: number, direction: TcxDirection): Array<{id: number; name: string; tag: string}> {
  const query = t().progQuery
  const ids = new Uint32Array(64)
  const q: Record<string, unknown> = {
    sz: ffi().koffi.sizeof('tcx_prog_query_opts'),
    query_flags: 0,
    attach_flags: 0,
    prog_ids: ids,
    prog_cnt: ids.length,
    prog_attach_flags: null,
  }
  if ((query(ifindex, TCX_ATTACH[direction], q) as number) < 0) return []
  return [...ids.slice(0, Number(q.prog_cnt))].map((id) => ({id, ...progNameTag(id)}))
}

function progNameTag(id: number): {name: string; tag: string} {
  const fd = t().progFdById(id) as number
  if (fd < 0) return {name: '', tag: ''}
  try {
    const buf = Buffer.alloc(PROG_INFO_SIZE)
    if ((ffi().objGetInfoByFd(fd, buf, [PROG_INFO_SIZE]) as number) < 0) return {name: '', tag: ''}
    const name = buf.subarray(64, 80).toString('latin1').replace(/\0.*$/s, '')
    return {name, tag: buf.subarray(8, 16).toString('hex')}
  } finally {
    closeFd(fd)
  }
}

/** Every attachment on the host, or one device: XDP and clsact (net/attachments.ts), and tcx. */
export async function allAttachments(dev?: string): Promise<Attachment[]> {
  const out = await attachments(dev)
  // Without a loadable libbpf there is no tcx to list: XDP and clsact (read through ip and tc) still are.
  try {
    ffi()
  } catch {
    return out
  }
  for (const l of (await links()).filter((x) => dev === undefined || x.ifname === dev))
    for (const direction of ['ingress', 'egress'] as const)
      for (const p of tcxPrograms(l.ifindex, direction))
        out.push({dev: l.ifname, hook: `tc-${direction}`, mode: 'tcx', id: p.id, name: p.name || undefined, tag: p.tag})
  return out
}

/**
 * Attach a pinned TC program to a host interface through a tcx link pinned next to it (ledger
 * first): `reset` and `bpf detach` find it there.
 */
export async function attachTcx(
  pinPath: string,
  dev: string,
  direction: TcxDirection,
  opts: {first?: boolean; ledger?: Ledger; lab?: number} = {},
): Promise<{linkId: number; progId: number; linkPin: string; updated: boolean}> {
  const l = await link(dev)
  if (!l) throw new UserError(`no interface ${dev} on the host`)
  const linkPin = tcxLinkPin(pinPath, dev, direction)
  const ledger = opts.ledger ?? new Ledger()
  if (!ledger.find((e) => e.kind === 'tcx' && e.details.pin === linkPin).length)
    ledger.record('tcx', dev, {lab: opts.lab, details: {direction, pin: linkPin}})
  return {...tcxAttach(pinPath, l.ifindex, direction, linkPin, {first: opts.first}), linkPin}
}

/** Detach every tcx link the tool pinned on dev's hook (the ledger names them); the pins removed. */
export function detachTcx(dev: string, direction: TcxDirection, opts: {ledger?: Ledger} = {}): string[] {
  const ledger = opts.ledger ?? new Ledger()
  const mine = ledger.find((e) => e.kind === 'tcx' && e.name === dev && e.details.direction === direction)
  const removed = mine.map((e) => String(e.details.pin)).filter((pin) => tcxDetach(pin))
  ledger.forget(mine.map((e) => e.id))
  return removed
}

/** enum bpf_link_type (linux/bpf.h): the mprog links, whose info is {ifindex, attach_type}. */
export const LINK_TYPE = {tcx: 11, netkit: 13} as const
/** enum bpf_attach_type: a netkit program for the primary's transmit, or the peer's (the pod's end). */
export const NETKIT_ATTACH = {primary: 54, peer: 55} as const

/**
 * Every tcx and netkit link the kernel has, in every namespace (what `bpftool link show` lists):
 * its ids, and the ifindex it is on, which is an index in the device's own namespace.
 */
export function mprogLinks(): Array<ReturnType<typeof linkInfo>> {
  const out: Array<ReturnType<typeof linkInfo>> = []
  const next = [0]
  let id = 0
  while ((t().linkNextId(id, next) as number) === 0) {
    id = next[0]
    const fd = t().linkFdById(id) as number
    if (fd < 0) continue // gone meanwhile
    try {
      const info = linkInfo(fd)
      if (info.type === LINK_TYPE.tcx || info.type === LINK_TYPE.netkit) out.push(info)
    } finally {
      closeFd(fd)
    }
  }
  return out
}

/**
 * A netkit link (kernel 6.7, commit 35dfaad7188c): the pinned program at progPin on the netkit
 * pair whose primary is ifindex (only the primary manages programs, its own and its peer's),
 * pinned at linkPin. "peer" runs where the pod's end transmits, "primary" where the host's does.
 * Call it in the primary's network namespace (bpf/netns.ts).
 */
export function netkitAttach(progPin: string, ifindex: number, which: keyof typeof NETKIT_ATTACH, linkPin: string) {
  const prog = objGet(progPin)
  try {
    const rc = t().linkCreate(prog, ifindex, NETKIT_ATTACH[which], null) as number
    if (rc < 0) throw new BpfError(`attaching a netkit ${which} link on ifindex ${ifindex}`, -rc)
    try {
      check(`pinning the netkit link at ${linkPin}`, t().objPin(rc, linkPin) as number)
      return linkIds(rc)
    } finally {
      closeFd(rc)
    }
  } finally {
    closeFd(prog)
  }
}

/** Swap the program of the link with this id for the pinned one at progPin (bpf_link_update): the old one leaves the hook. */
export function tcxReplaceProgram(linkId: number, progPin: string): void {
  const link = t().linkFdById(linkId) as number
  check(`opening link ${linkId}`, link)
  const prog = objGet(progPin)
  try {
    check(`replacing the program of link ${linkId}`, t().linkUpdate(link, prog, null) as number)
  } finally {
    closeFd(prog)
    closeFd(link)
  }
}
