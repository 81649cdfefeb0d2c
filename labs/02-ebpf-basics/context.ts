import {existsSync, readFileSync} from 'node:fs'
import {basename, join} from 'node:path'
import {lab1Context, type Lab1Context, type PluginFixture, type PluginOptions} from '../01-bridge-cni/context.js'
import type {CheckPods} from '#checks/check-pods.js'
import {buildBpf, buildVerdictProbe, type BuildResult} from '#bpf/build.js'
import {inlineChainInObject} from '#bpf/inline-sites.js'
import {BpfObject, objGet, progInfo, testRun} from '#bpf/object.js'
import {mapLookup, mapUpdate} from '#bpf/map-ops.js'
import {closeFd} from '#bpf/ffi.js'
import {explainVerifierLog, type VerifierReport} from '#bpf/verifier.js'
import {CheckSkip} from '#checks/engine.js'
import {objectOf, PROGRAM_FILES} from '#engine/lab-module.js'

export const DEFAULT_XDP_PIN = '/sys/fs/bpf/ebpfcni/xdp_prog'

export interface Loaded {
  ok: boolean
  /** Program name -> fd, while the context lives (closed in cleanup). */
  fds: Map<string, number>
  /** Tag of xdp_prog as built from the current source. */
  tag?: string
  verifier?: VerifierReport & {errno: number; callSite?: CallSite}
}

/** A refusal inside a provided header, traced back to the learner's call (DWARF's inlined calls). */
export interface CallSite {
  /** The learner's file and line of the outermost call, and that line's text. */
  file: string
  line: number
  text: string
  /** The inlined functions from that call to the refused line, outermost first. */
  through: string[]
}

/**
 * The learner's program, built from the workspace and loaded (not pinned: this copy only measures
 * and test-runs): lab 2's fixture, reused by labs 3 and 4.
 */
export class ProgramFixture {
  private obj?: BpfObject
  /** The learner's program file, as clang and the verifier name it. */
  readonly fileName = PROGRAM_FILES.program

  constructor(
    readonly pods: CheckPods,
    readonly plugin: PluginFixture,
    readonly workspace: string,
  ) {
    pods.onCleanup('before-pods', () => this.obj?.close())
  }

  /** The pin the plugin attaches: the config's xdpPin, or the lab's default. */
  xdpPin(): string {
    const pin = this.plugin.rawConfig().xdpPin
    return typeof pin === 'string' && pin ? pin : DEFAULT_XDP_PIN
  }

  built(): Promise<BuildResult> {
    return this.pods.once('built', () =>
      buildBpf(join(this.workspace, PROGRAM_FILES.program), join(this.pods.tmp, objectOf(PROGRAM_FILES.program))),
    )
  }

  /** Load the current build (not pinned: this copy only measures and test-runs). */
  loaded(): Promise<Loaded> {
    return this.pods.once('loaded', async () => {
      const b = await this.built()
      if (!b.ok) throw new CheckSkip('needs a program that compiles (bpf.compiles)')
      this.obj = BpfObject.open(b.object)
      const r = this.obj.load()
      if (!r.ok) {
        const v = explainVerifierLog(r.log)
        return {ok: false, fds: new Map(), verifier: {...v, errno: r.errno, callSite: await this.callSite(b.object, v)}}
      }
      const fds = new Map(this.obj.programs().map((p) => [p.name, p.fd] as const))
      const fd = fds.get('xdp_prog')
      return {ok: true, fds, tag: fd === undefined ? undefined : progInfo(fd).tag}
    })
  }

  /**
   * The program built with every XDP_PASS recording its line (buildVerdictProbe) and loaded, to see
   * the header reads clang drops from the real build when all their paths return XDP_PASS. Undefined
   * when the probe build does not compile (XDP_PASS used where a constant is needed): nothing to say.
   */
  verdictProbe(): Promise<{ok: true} | {ok: false; verifier: VerifierReport & {errno: number}} | undefined> {
    return this.pods.once('verdict-probe', async () => {
      const b = await this.probeBuilt()
      if (!b.ok) return undefined
      const obj = BpfObject.open(b.object)
      try {
        const r = obj.load()
        return r.ok
          ? {ok: true as const}
          : {ok: false as const, verifier: {...explainVerifierLog(r.log), errno: r.errno}}
      } finally {
        obj.close()
      }
    })
  }

  private probeBuilt(): Promise<BuildResult> {
    return this.pods.once('verdict-probe-built', () =>
      buildVerdictProbe(
        join(this.workspace, PROGRAM_FILES.program),
        join(this.pods.tmp, `probe-${objectOf(PROGRAM_FILES.program)}`),
      ),
    )
  }

  /**
   * For each frame, the line of the `XDP_PASS` the program returned it by, test-run in the probe build
   * (0: it returned by no XDP_PASS). Undefined when the probe build does not compile or load.
   */
  async passLines(frames: Buffer[]): Promise<number[] | undefined> {
    const b = await this.probeBuilt()
    if (!b.ok) return undefined
    const obj = BpfObject.open(b.object)
    try {
      if (!obj.load().ok) return undefined
      const prog = obj.programs().find((p) => p.name === 'xdp_prog')
      const line = obj.mapFd('.data.ebpfcni')
      if (!prog || line === undefined) return undefined
      const key = Buffer.alloc(4)
      return frames.map((f) => {
        mapUpdate(line, key, Buffer.alloc(4))
        testRun(prog.fd, f)
        return mapLookup(line, key, 4)?.readUInt32LE(0) ?? 0
      })
    } finally {
      obj.close()
    }
  }

  /** When the verifier refused a line outside the learner's file: the learner's call that leads there. */
  private async callSite(object: string, v: VerifierReport): Promise<CallSite | undefined> {
    const mine = basename(PROGRAM_FILES.program)
    if (!v.source || v.insn === undefined || basename(v.source.file) === mine) return undefined
    const chain = await inlineChainInObject(object, v.insn, v.source.file)
    const outer = chain?.[0]
    if (!outer || basename(outer.callFile) !== mine) return undefined
    const lines = readFileSync(join(this.workspace, PROGRAM_FILES.program), 'utf8').split('\n')
    return {
      file: mine,
      line: outer.callLine,
      text: (lines[outer.callLine - 1] ?? '').trim(),
      through: chain.map((f) => f.fn),
    }
  }

  /** The loaded xdp_prog's fd, or a skip when loading failed. */
  async programFd(): Promise<number> {
    const l = await this.loaded()
    if (!l.ok) throw new CheckSkip('needs a program the verifier accepts (bpf.verifier-accepts)')
    const fd = l.fds.get('xdp_prog')
    if (fd === undefined) throw new CheckSkip('needs a program named xdp_prog (bpf.verifier-accepts)')
    return fd
  }
}

/** Lab 2's checks: lab 1's pods (the plugin now attaches XDP), plus the learner's program. */
export interface Lab2Context extends Lab1Context {
  program: ProgramFixture
}

export type ProgramOptions = PluginOptions & {workspace: string}

export function lab2Context(opts: ProgramOptions): Lab2Context {
  const base = lab1Context(opts)
  return {...base, program: new ProgramFixture(base.pods, base.plugin, opts.workspace)}
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
