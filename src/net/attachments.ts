import {run, ok} from '../host/exec.js'
import {links} from './ip.js'

// Which BPF programs are attached where on the host, read as `bpftool net` shows it: XDP from
// `ip -j -d link` (id, name, tag, mode) and TC clsact filters from `tc -j filter show`.

export interface Attachment {
  dev: string
  hook: 'xdp' | 'tc-ingress' | 'tc-egress'
  /** XDP mode (generic, native, offload), or "clsact" for TC (bpf/tcx.ts adds "tcx" for tcx links). */
  mode: string
  id: number
  name?: string
  tag?: string
}

const XDP_MODES: Record<number, string> = {1: 'native', 2: 'generic', 3: 'offload'}

interface XdpProg {
  id: number
  name?: string
  tag?: string
}

/** Every attachment on the host, or on one device. */
export async function attachments(dev?: string): Promise<Attachment[]> {
  const out: Attachment[] = []
  for (const l of (await links()).filter((x) => dev === undefined || x.ifname === dev)) {
    const xdp = l.xdp as {mode?: number; prog?: XdpProg; attached?: Array<{mode: number; prog: XdpProg}>} | undefined
    const progs = xdp?.attached ?? (xdp?.prog ? [{mode: xdp.mode ?? 0, prog: xdp.prog}] : [])
    for (const a of progs)
      out.push({
        dev: l.ifname,
        hook: 'xdp',
        mode: XDP_MODES[a.mode] ?? String(a.mode),
        id: a.prog.id,
        name: a.prog.name,
        tag: a.prog.tag,
      })
    for (const direction of ['ingress', 'egress'] as const) {
      const r = await run('tc', ['-j', 'filter', 'show', 'dev', l.ifname, direction], {timeoutMs: 5000})
      if (!ok(r) || !r.stdout.trim()) continue
      for (const f of JSON.parse(r.stdout) as Array<{options?: {bpf_name?: string; prog?: XdpProg}}>) {
        if (f.options?.prog)
          out.push({
            dev: l.ifname,
            hook: `tc-${direction}`,
            mode: 'clsact',
            id: f.options.prog.id,
            name: f.options.prog.name ?? f.options.bpf_name,
            tag: f.options.prog.tag,
          })
      }
    }
  }
  return out
}
