import {mkdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {buildBpf} from '#bpf/build.js'
import {BpfObject, testRunFrame} from '#bpf/object.js'
import {cgroupAttach} from '#bpf/attach.js'
import {mapDelete, mapUpdate} from '#bpf/map-ops.js'
import {explainVerifierLog} from '#bpf/verifier.js'
import {errnoName} from '#bpf/ffi.js'
import {ipv4Tcp} from '#bpf/frames.js'
import {keyToIpv4} from '#bpf/counters.js'
import {errorMessage} from '#host/errors.js'
import {CheckFailure, CheckSkip} from '#checks/engine.js'
import type {Lab6Context, LoadedServices} from './context.js'
import {addrKey, u32le, type Service} from './services.js'
import {removeCgroup} from './cgroups.js'
import {flowHash, maglevTable, tableValue, MAGLEV_M} from './maglev.js'

// Step 4's fixture: maglev.bpf.c built and loaded beside step 1's program, its connect4 attached
// to a cgroup of its own (beside the pods' cgroup, so services.bpf.c does not run there), its
// maps filled with the Services and a Maglev table each, as an agent would; and the 10,000-flow
// run of its maglev_xdp through BPF_PROG_TEST_RUN.

export const MAGLEV_PROGRAM = 'maglev.bpf.c'
/** The synthetic Service of the remap figure: its id (the maglev array has 64), VIP and backends (TEST-NET-1: map content only, no packet goes there). */
export const SYNTHETIC = {
  id: 63,
  vip: '10.96.6.99',
  port: 80,
  backends: ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5'],
  targetPort: 8080,
  /** The backend the second table leaves out. */
  removed: '192.0.2.3',
}
export const FLOWS = 10_000
const XDP_TX = 3

export interface MaglevLoaded {
  services: LoadedServices
  /** The cgroup maglev's connect4 is attached to, and the client's under it. */
  attachedTo: string
  clientCgroup: string
}

/** What the learner's lookup did with the same flows before and after one backend went. */
export interface RemapResult {
  flows: number
  /** Flows the program gave no backend (not rewritten), with 5 backends, then 4. */
  missed: [number, number]
  /** Flows per backend with 5 backends, in SYNTHETIC.backends' order. */
  shares: number[]
  /** Flows whose backend changed (those on the removed one included), and those that were on the removed one. */
  remapped: number
  onRemoved: number
  /** hash % N's figure on the same flows' hashes: backend = backends[hash % N]. */
  modNRemapped: number
  /** A destination the program wrote that is no backend of the Service. */
  stray?: string
}

const fds = (obj: BpfObject): Map<string, number> => new Map(obj.maps().map((m) => [m.name, m.fd]))

/** Build and load maglev.bpf.c (fails the asking check with clang's or the verifier's words). */
export const maglevProgram = (ctx: Lab6Context): Promise<BpfObject> =>
  ctx.pods.once('maglev-program', async () => {
    const built = await buildBpf(join(ctx.workspace, MAGLEV_PROGRAM), join(ctx.pods.tmp, 'maglev.o'))
    if (!built.ok) {
      const first = built.diagnostics.find((d) => d.severity === 'error')
      throw new CheckFailure(
        `${MAGLEV_PROGRAM} does not compile: ${first ? `line ${first.line}: ${first.message}` : (built.problem ?? 'clang failed')}`,
      )
    }
    const obj = BpfObject.open(built.object)
    ctx.pods.onCleanup('before-pods', () => obj.close())
    const loaded = obj.load()
    if (!loaded.ok) {
      const v = explainVerifierLog(loaded.log)
      const unbounded = /unbounded (min value|memory access)|outside of the allowed memory range/.test(loaded.log)
      throw new CheckFailure(
        `the verifier refused ${MAGLEV_PROGRAM} (${errnoName(loaded.errno)}): ${v.lastLines.slice(-2).join(' | ')}${v.source ? ` — line ${v.source.line}: ${v.source.text.trim()}` : ''}`,
        unbounded
          ? 'The table index must be bounded where the verifier can see it: j = hash % MAGLEV_M, then barrier_var(j); if (j >= MAGLEV_M) return NULL; before t->entry[j] (clang knows j < MAGLEV_M and drops a bare check; the verifier cannot infer it from the division).'
          : v.explanation,
      )
    }
    for (const name of ['services', 'backends', 'maglev'])
      if (!obj.maps().some((m) => m.name === name))
        throw new CheckFailure(`${MAGLEV_PROGRAM} has no map named ${name}: keep the starter's ready-made maps`)
    for (const name of ['connect4', 'maglev_xdp'])
      if (!obj.programs().some((p) => p.name === name))
        throw new CheckFailure(`${MAGLEV_PROGRAM} has no program named ${name}: keep the starter's ready-made programs`)
    return obj
  })

/** A Service's backends into the maps: backends[{id, slot}], services[{vip, port}] and its Maglev table. */
export function fillService(
  maps: Map<string, number>,
  id: number,
  vip: {ip: string; port: number},
  backends: Array<{ip: string; port: number}>,
  previous = 0,
): void {
  backends.forEach((b, slot) => mapUpdate(maps.get('backends')!, u32le(id, slot), addrKey(b.ip, b.port)))
  for (let slot = backends.length; slot < previous; slot++) mapDelete(maps.get('backends')!, u32le(id, slot))
  // No backend: no table (connect4 refuses such a Service before it looks; the value stays zeros).
  const table = backends.length
    ? tableValue(maglevTable(backends.map((b) => `${b.ip}:${b.port}`)))
    : Buffer.alloc(4 * MAGLEV_M)
  mapUpdate(maps.get('maglev')!, u32le(id), table)
  mapUpdate(maps.get('services')!, addrKey(vip.ip, vip.port), u32le(id, backends.length))
}

/** The Services' backends, as step 1's fixture picked them (the pods whose labels match). */
const picked = (s: LoadedServices, service: Service): LoadedServices['backends'] =>
  Object.entries(service.selector).every(([k, v]) => s.services[0].selector[k] === v) ? s.backends : []

/** maglev.bpf.c attached and filled, once per run; on step 1's pods (its program loaded too). */
export const maglevLoaded = (ctx: Lab6Context): Promise<MaglevLoaded> =>
  ctx.pods.once('maglev-loaded', async () => {
    const obj = await maglevProgram(ctx)
    let s: LoadedServices
    try {
      s = await ctx.loaded()
    } catch (err) {
      throw new CheckSkip(`needs step 1's pods, which come with services.bpf.c attached (${errorMessage(err)})`)
    }
    const run = dirname(dirname(s.clientCgroup))
    const attachedTo = join(run, 'maglev')
    const clientCgroup = join(attachedTo, 'client')
    mkdirSync(clientCgroup, {recursive: true})
    ctx.pods.onCleanup('before-pods', () => removeCgroup(attachedTo))
    const prog = obj.programs().find((p) => p.name === 'connect4')!
    try {
      cgroupAttach(attachedTo, 'connect4', prog.fd)
    } catch (err) {
      throw new CheckFailure(
        `the kernel refused to attach connect4 to a cgroup: ${errorMessage(err)}`,
        'Keep the starter\'s SEC("cgroup/connect4") on connect4.',
      )
    }
    const maps = fds(obj)
    s.services.forEach((service, id) =>
      fillService(
        maps,
        id,
        {ip: service.clusterIP, port: service.port},
        picked(s, service).map((b) => ({ip: b.ip, port: service.targetPort})),
      ),
    )
    return {services: s, attachedTo, clientCgroup}
  })

/** The synthetic flows: distinct sources and source ports, all to the synthetic VIP. */
export function syntheticFlows(n = FLOWS): Array<{src: string; sport: number}> {
  return Array.from({length: n}, (_, i) => ({
    src: `198.18.${(i >> 8) & 255}.${i & 255}`,
    sport: 1024 + ((Math.imul(i, 2654435761) >>> 0) % 60000),
  }))
}

/** Each flow's backend as the program wrote it into the packet ('' when it wrote none). */
function evaluate(progFd: number, frames: Buffer[]): string[] {
  return frames.map((frame) => {
    const r = testRunFrame(progFd, frame)
    if (r.retval !== XDP_TX) return ''
    return keyToIpv4(r.frame.subarray(14 + 16, 14 + 20))
  })
}

/** 10,000 flows through the learner's lookup with 5 backends, then with one removed; and hash % N's figure. */
export const remap = (ctx: Lab6Context): Promise<RemapResult> =>
  ctx.pods.once('maglev-remap', async () => {
    const obj = await maglevProgram(ctx)
    const maps = fds(obj)
    const prog = obj.programs().find((p) => p.name === 'maglev_xdp')!
    const flows = syntheticFlows()
    const frames = flows.map((f) => ipv4Tcp(f.src, SYNTHETIC.vip, SYNTHETIC.port, f.sport))
    const vip = {ip: SYNTHETIC.vip, port: SYNTHETIC.port}
    const all = SYNTHETIC.backends.map((ip) => ({ip, port: SYNTHETIC.targetPort}))
    const kept = all.filter((b) => b.ip !== SYNTHETIC.removed)
    fillService(maps, SYNTHETIC.id, vip, all)
    const before = evaluate(prog.fd, frames)
    fillService(maps, SYNTHETIC.id, vip, kept, all.length)
    const after = evaluate(prog.fd, frames)
    const known = new Set(SYNTHETIC.backends)
    const stray = [...before, ...after].find((ip) => ip && !known.has(ip))
    let remapped = 0
    let onRemoved = 0
    let modNRemapped = 0
    for (let i = 0; i < flows.length; i++) {
      if (before[i] === SYNTHETIC.removed) onRemoved++
      if (before[i] && after[i] && before[i] !== after[i]) remapped++
      // hash % N on the same flow: the frame's fields as maglev_xdp hashes them.
      const f = frames[i]
      const h = flowHash(f.readUInt32LE(14 + 12), f.readUInt32LE(14 + 16), f.readUInt32LE(14 + 20))
      if (all[h % all.length].ip !== kept[h % kept.length].ip) modNRemapped++
    }
    return {
      flows: flows.length,
      missed: [before.filter((b) => !b).length, after.filter((b) => !b).length],
      shares: SYNTHETIC.backends.map((ip) => before.filter((b) => b === ip).length),
      remapped,
      onRemoved,
      modNRemapped,
      stray,
    }
  })
