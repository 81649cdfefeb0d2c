import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {BPF_PIN_ROOT} from '../host/paths.js'
import {BpfObject, objGet, objKind, progInfo} from './object.js'
import {closeFd} from './ffi.js'
import {mapInfo} from './map-ops.js'
import {tcAttach, tcDetach, tcQueryId, xdpAttach, xdpDetach, xdpQueryId, XDP_FLAGS, type TcDirection} from './attach.js'
import {explainVerifierLog, type VerifierReport} from './verifier.js'
import {link, linksByIndex} from '../net/ip.js'
import {UserError} from '../host/errors.js'
import {filesystemOf} from '../host/mounts.js'

export interface LoadOutcome {
  ok: boolean
  programs: Array<{name: string; pin: string}>
  maps: Array<{name: string; pin: string}>
  /** With replace: the interfaces whose XDP or TC attachment of the old program now runs the new one. */
  reattached?: Array<{program: string; dev: string; hook: ReattachHook}>
  /** With replace: attachments of the old program that could not be moved, and why (they run the old one). */
  left?: Array<{program: string; dev: string; hook: ReattachHook; why: string}>
  verifier?: VerifierReport & {errno: number}
}

/**
 * Load an object file and pin every program and map under pinDir (default
 * /sys/fs/bpf/ebpfcni), each pin recorded in the ledger before it is made.
 * A map already pinned there with the same type and sizes is reused, as libbpf's
 * pinning by name does: counters and rules survive a reload, and programs still
 * attached to older pods keep writing where user space reads.
 */
export function loadAndPin(
  objectPath: string,
  opts: {pinDir?: string; ledger?: Ledger; lab?: number; replace?: boolean} = {},
): LoadOutcome {
  const pinDir = opts.pinDir ?? BPF_PIN_ROOT
  const ledger = opts.ledger ?? new Ledger()
  if (!existsSync(objectPath)) throw new UserError(`${objectPath} does not exist`, {next: {do: 'build-program'}})
  // Pins live only on the BPF filesystem: elsewhere the kernel answers EINVAL, which reads like a bug of ours.
  const fs = filesystemOf(pinDir)
  if (fs !== 'bpf')
    throw new UserError(
      `${pinDir} is on ${fs ?? 'no mounted filesystem'}, not the BPF filesystem: pins can only be made on bpffs`,
      {
        hint: `pin under ${BPF_PIN_ROOT} (the default) or another directory of a mounted bpffs (mount -t bpf bpf /sys/fs/bpf)`,
      },
    )
  // pin_root_path: maps declared with __uint(pinning, LIBBPF_PIN_BY_NAME) land in pinDir too.
  const obj = BpfObject.open(objectPath, {pinRoot: pinDir})
  const reused = new Set<string>()
  const reuseFds: number[] = []
  try {
    for (const def of obj.mapDefs()) {
      const name = def.name
      const path = join(pinDir, name)
      if (!existsSync(path)) continue
      const fd = objGet(path)
      reuseFds.push(fd)
      const old = objKind(fd) === 'map' ? mapInfo(fd) : undefined
      // bpf_map__reuse_fd adopts whatever it is given: the shapes must be compared first.
      const same =
        old !== undefined &&
        old.type === def.type &&
        old.keySize === def.keySize &&
        old.valueSize === def.valueSize &&
        old.maxEntries === def.maxEntries &&
        old.flags === def.flags
      if (same) {
        obj.reuseMap(name, fd)
        reused.add(name)
      } else if (!opts.replace)
        throw new UserError(`${path} is pinned with a different shape than ${name} in ${objectPath}`, {
          hint: 'load again with --replace to replace it by an empty map',
        })
      // Unpinned before load: libbpf's own pin-by-name would otherwise refuse the mismatch.
      else rmSync(path)
    }
    // Before load: libbpf itself pins LIBBPF_PIN_BY_NAME maps there during load.
    const made = !existsSync(pinDir) ? ledger.record('dir', pinDir, {lab: opts.lab}) : undefined
    if (made) mkdirSync(pinDir, {recursive: true})
    const loaded = obj.load()
    if (!loaded.ok) {
      // A refused program pins nothing: the directory made for it goes too.
      if (made) {
        rmSync(pinDir, {recursive: true, force: true})
        ledger.forget([made.id])
      }
      return {ok: false, programs: [], maps: [], verifier: {...explainVerifierLog(loaded.log), errno: loaded.errno}}
    }
    // Which program each replaced pin held: interfaces running it get the new one (below).
    const oldProgramIds = new Map<string, number>()
    const pin = (kind: 'program' | 'map', name: string): string => {
      const path = join(pinDir, name)
      if (existsSync(path)) {
        if (kind === 'program' && opts.replace) oldProgramIds.set(name, pinnedProgramId(path))
        if (!opts.replace)
          throw new UserError(`${path} is already pinned`, {
            hint: 'load again with --replace (interfaces running the old XDP program get the new one)',
          })
        // Unpinning drops only the name: attached copies run on until their interface goes.
        rmSync(path)
      }
      if (!ledger.find((e) => e.kind === 'pin' && e.name === path).length)
        ledger.record('pin', path, {lab: opts.lab, details: {kind}})
      return path
    }
    const programs = obj.programs().map((p) => {
      const path = pin('program', p.name)
      obj.pinProgram(p.name, path)
      return {name: p.name, pin: path}
    })
    const moves = programs.map((p) => ({program: p.name, ...reattach(oldProgramIds.get(p.name), p.pin)}))
    const reattached = moves.flatMap((m) => m.moved.map((a) => ({program: m.program, ...a})))
    const left = moves.flatMap((m) => m.left.map((a) => ({program: m.program, ...a})))
    const maps = obj.maps().map((m) => {
      if (reused.has(m.name)) return {name: m.name, pin: join(pinDir, m.name)}
      if (pinnedIs(join(pinDir, m.name), m.fd)) {
        // libbpf pinned it already (LIBBPF_PIN_BY_NAME): only the ledger needs to know.
        const path = join(pinDir, m.name)
        if (!ledger.find((e) => e.kind === 'pin' && e.name === path).length)
          ledger.record('pin', path, {lab: opts.lab, details: {kind: 'map'}})
        return {name: m.name, pin: path}
      }
      const path = pin('map', m.name)
      obj.pinMap(m.name, path)
      return {name: m.name, pin: path}
    })
    return {ok: true, programs, maps, reattached, ...(left.length ? {left} : {})}
  } finally {
    obj.close()
    for (const fd of reuseFds) closeFd(fd)
  }
}

/** The kernel id of the program pinned at path (0 when the pin is not a program). */
function pinnedProgramId(path: string): number {
  const fd = objGet(path)
  try {
    return objKind(fd) === 'program' ? progInfo(fd).id : 0
  } finally {
    closeFd(fd)
  }
}

export type ReattachHook = 'XDP' | 'XDP native' | 'TC egress' | 'TC ingress'

/** The XDP modes an attachment of the old program can be found in on a host (offload needs hardware). */
const XDP_REATTACH_MODES = [
  {flag: XDP_FLAGS.SKB_MODE, hook: 'XDP'},
  {flag: XDP_FLAGS.DRV_MODE, hook: 'XDP native'},
] as const

/**
 * Moves every XDP attachment (generic or native mode, each in its own mode), and every TC (clsact)
 * one at tcAttach's handle, of program oldId to the program pinned at newPin, as an agent does on
 * upgrade: a reload then changes what existing pods run (xdp_prog and lab 4's to_pod alike), not only
 * what new pods get. Returns the interfaces moved, and those whose attachment the kernel refused to
 * move (they keep running the old program: the caller names them). A few netlink calls per interface.
 */
function reattach(
  oldId: number | undefined,
  newPin: string,
): {moved: Array<{dev: string; hook: ReattachHook}>; left: Array<{dev: string; hook: ReattachHook; why: string}>} {
  const moved: Array<{dev: string; hook: ReattachHook}> = []
  const left: Array<{dev: string; hook: ReattachHook; why: string}> = []
  if (!oldId) return {moved, left}
  let fd: number | undefined
  const newFd = () => (fd ??= objGet(newPin))
  const move = (dev: string, hook: ReattachHook, attach: () => void) => {
    try {
      attach()
      moved.push({dev, hook})
    } catch (err) {
      left.push({dev, hook, why: (err as Error).message})
    }
  }
  try {
    for (const [ifindex, dev] of linksByIndex()) {
      const runsOld = (query: () => number): boolean => {
        try {
          return query() === oldId
        } catch {
          return false // an interface that went away meanwhile keeps nothing to move
        }
      }
      for (const m of XDP_REATTACH_MODES)
        if (runsOld(() => xdpQueryId(ifindex, m.flag))) move(dev, m.hook, () => xdpAttach(ifindex, newFd(), m.flag))
      for (const direction of ['egress', 'ingress'] as const)
        if (runsOld(() => tcQueryId(ifindex, direction)))
          move(dev, `TC ${direction}`, () => tcAttach(ifindex, direction, newFd(), {replace: true}))
    }
  } finally {
    if (fd !== undefined) closeFd(fd)
  }
  return {moved, left}
}

/** Whether the object pinned at path is the map behind fd (same kernel id). */
function pinnedIs(path: string, fd: number): boolean {
  if (!existsSync(path)) return false
  const pinned = objGet(path)
  try {
    return objKind(pinned) === 'map' && mapInfo(pinned).id === mapInfo(fd).id
  } finally {
    closeFd(pinned)
  }
}

export type XdpMode = 'generic' | 'native'
const modeFlag = (mode: XdpMode): number => (mode === 'native' ? XDP_FLAGS.DRV_MODE : XDP_FLAGS.SKB_MODE)

/** Attach a pinned program to a host interface (ledger first). Generic mode suits veths. */
export async function attachXdp(
  pinPath: string,
  dev: string,
  opts: {mode?: XdpMode; ledger?: Ledger; lab?: number} = {},
): Promise<number> {
  const l = await link(dev)
  if (!l) throw new UserError(`no interface ${dev} on the host`)
  const ledger = opts.ledger ?? new Ledger()
  const fd = objGet(pinPath)
  try {
    ledger.record('xdp', dev, {lab: opts.lab, details: {mode: opts.mode ?? 'generic'}})
    xdpAttach(l.ifindex, fd, modeFlag(opts.mode ?? 'generic'))
    return xdpQueryId(l.ifindex, modeFlag(opts.mode ?? 'generic'))
  } finally {
    closeFd(fd)
  }
}

/** Attach a pinned TC program to a host interface's clsact ingress or egress (ledger first). */
export async function attachTc(
  pinPath: string,
  dev: string,
  direction: TcDirection,
  opts: {ledger?: Ledger; lab?: number} = {},
): Promise<number> {
  const l = await link(dev)
  if (!l) throw new UserError(`no interface ${dev} on the host`)
  const fd = objGet(pinPath)
  try {
    const ledger = opts.ledger ?? new Ledger()
    if (!ledger.find((e) => e.kind === 'tc' && e.name === dev).length)
      ledger.record('tc', dev, {lab: opts.lab, details: {direction}})
    // What is attached there already (lab 4's to_pod after policy apply) is replaced, as XDP's is.
    return tcAttach(l.ifindex, direction, fd, {replace: true})
  } finally {
    closeFd(fd)
  }
}

export async function detachXdp(dev: string, opts: {mode?: XdpMode; ledger?: Ledger} = {}): Promise<boolean> {
  const l = await link(dev)
  if (!l) return false
  const flag = modeFlag(opts.mode ?? 'generic')
  const had = xdpQueryId(l.ifindex, flag) !== 0
  if (had) xdpDetach(l.ifindex, flag)
  ;(opts.ledger ?? new Ledger()).forgetWhere((e) => e.kind === 'xdp' && e.name === dev)
  return had
}

/** Detach the TC program from a host interface's clsact ingress or egress; false when there was none. */
export async function detachTc(dev: string, direction: TcDirection, opts: {ledger?: Ledger} = {}): Promise<boolean> {
  const l = await link(dev)
  if (!l) return false
  try {
    tcDetach(l.ifindex, direction)
  } catch {
    return false
  }
  ;(opts.ledger ?? new Ledger()).forgetWhere(
    (e) => e.kind === 'tc' && e.name === dev && (e.details as {direction?: string}).direction === direction,
  )
  return true
}

/** A pinned object named by a path, or by its name under the pin dir (the one convention of the bpf commands). */
export const resolvePin = (nameOrPath: string, pinDir: string): string =>
  nameOrPath.includes('/') ? nameOrPath : `${pinDir}/${nameOrPath}`
