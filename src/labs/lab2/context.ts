import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {Lab1Context, type Lab1Options} from '../lab1/context.js'
import {buildBpf, type BuildResult} from '../../bpf/build.js'
import {BpfObject, objGet, progInfo} from '../../bpf/object.js'
import {closeFd} from '../../bpf/ffi.js'
import {explainVerifierLog, type VerifierReport} from '../../bpf/verifier.js'
import {CheckSkip} from '../check-types.js'

export const DEFAULT_XDP_PIN = '/sys/fs/bpf/ebpfcni/xdp_prog'

export interface Loaded {
  ok: boolean
  /** Program name -> fd, while the context lives (closed in cleanup). */
  fds: Map<string, number>
  /** Tag of xdp_prog as built from the current source. */
  tag?: string
  verifier?: VerifierReport & {errno: number}
}

/** Lab 2: lab 1's pods (the plugin now attaches XDP), plus the learner's program built and loaded. */
export class Lab2Context extends Lab1Context {
  private obj?: BpfObject
  readonly workspace: string

  constructor(opts: Lab1Options & {workspace: string}) {
    super(opts)
    this.workspace = opts.workspace
  }

  /** The pin the plugin attaches: the config's xdpPin, or the lab's default. */
  xdpPin(): string {
    const pin = this.rawConfig().xdpPin
    return typeof pin === 'string' && pin ? pin : DEFAULT_XDP_PIN
  }

  built(): Promise<BuildResult> {
    return this.once('built', () => buildBpf(join(this.workspace, 'ebpfcni.bpf.c'), join(this.tmp, 'ebpfcni.bpf.o')))
  }

  /** Load the current build (not pinned: this copy only measures and test-runs). */
  loaded(): Promise<Loaded> {
    return this.once('loaded', async () => {
      const b = await this.built()
      if (!b.ok) throw new CheckSkip('needs a program that compiles (bpf.compiles)')
      this.obj = BpfObject.open(b.object)
      const r = this.obj.load()
      if (!r.ok) return {ok: false, fds: new Map(), verifier: {...explainVerifierLog(r.log), errno: r.errno}}
      const fds = new Map(this.obj.programs().map((p) => [p.name, p.fd] as const))
      const fd = fds.get('xdp_prog')
      return {ok: true, fds, tag: fd === undefined ? undefined : progInfo(fd).tag}
    })
  }

  /** The loaded xdp_prog's fd, or a skip when loading failed. */
  async programFd(): Promise<number> {
    const l = await this.loaded()
    if (!l.ok) throw new CheckSkip('needs a program the verifier accepts (bpf.verifier-accepts)')
    const fd = l.fds.get('xdp_prog')
    if (fd === undefined) throw new CheckSkip('needs a program named xdp_prog (bpf.verifier-accepts)')
    return fd
  }

  protected async removeAll(): Promise<void> {
    this.obj?.close()
    await super.removeAll()
  }
}

/** The program pinned at a path (undefined when nothing, or no program, is pinned there). */
export function pinnedProgram(pin: string): {id: number; tag: string; type: number} | undefined {
  if (!existsSync(pin)) return undefined
  let fd = -1
  try {
    fd = objGet(pin)
    return progInfo(fd)
  } catch {
    return undefined
  } finally {
    if (fd >= 0) closeFd(fd)
  }
}
