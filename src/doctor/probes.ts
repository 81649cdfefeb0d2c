import {accessSync, constants, existsSync, readFileSync} from 'node:fs'
import {run, ok, describeRun} from '../host/exec.js'
import {filesystemOf} from '../host/mounts.js'
import {netkitSupport} from '../bpf/netkit.js'

// How doctor looks at the machine: small probes its items (items.ts) are made of. Each answers
// ok or not, and in a few words what it saw.

/** What one probe saw: whether the item is met, and the detail doctor prints. */
export interface ProbeResult {
  ok: boolean
  detail: string
}

export type Probe = () => Promise<ProbeResult>

/** The capabilities the labs use, by their bit in CapEff. */
const CAPABILITIES: Record<string, number> = {CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39}

function effectiveCapabilities(): bigint {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('CapEff:'))
  return line ? BigInt(`0x${line.split(/\s+/)[1]}`) : 0n
}

/** Root, with every capability the labs use (a container's root may lack some). */
export async function rootWithCapabilities(): Promise<ProbeResult> {
  if (process.getuid?.() !== 0) return {ok: false, detail: `uid ${process.getuid?.()}, not root`}
  const caps = effectiveCapabilities()
  const missing = Object.entries(CAPABILITIES)
    .filter(([, bit]) => (caps & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name)
  return missing.length
    ? {ok: false, detail: `root, but missing ${missing.join(', ')}`}
    : {ok: true, detail: `root with ${Object.keys(CAPABILITIES).join(', ')}`}
}

/** A probe that `fstype` is mounted at `path` (not just the filesystem that holds it). */
export const mountedAt =
  (path: string, fstype: string): Probe =>
  async () =>
    filesystemOf(path) === fstype ? {ok: true, detail: 'mounted'} : {ok: false, detail: 'not mounted'}

/** Parse "6.1.0-18-amd64" style releases; exported for tests. */
export function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release)
  if (!m) return false
  const [a, b] = [Number(m[1]), Number(m[2])]
  return a > major || (a === major && b >= minor)
}

/** A tool that runs: the first line of its version (or help) output, or why it did not. */
export async function tool(cmd: string, args: string[]): Promise<ProbeResult> {
  const r = await run(cmd, args, {timeoutMs: 5000})
  if (r.startError) return {ok: false, detail: `${cmd} not found`}
  if (!ok(r)) return {ok: false, detail: describeRun(r)}
  return {ok: true, detail: (r.stdout || r.stderr).trim().split('\n')[0]}
}

export function writable(dir: string): ProbeResult {
  try {
    accessSync(dir, constants.W_OK)
    return {ok: true, detail: `${dir} writable`}
  } catch {
    return {ok: false, detail: existsSync(dir) ? `${dir} not writable` : `${dir} missing`}
  }
}

/**
 * netkit (kernel 6.7, commit 35dfaad7188c): the kernel's release and config, iproute2, then a pair
 * made in a throwaway netns, so the answer is the kernel's and the host is not touched.
 */
export async function netkitDevices(): Promise<ProbeResult> {
  const s = await netkitSupport()
  return {ok: s.ok, detail: s.reason}
}
