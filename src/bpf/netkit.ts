import {existsSync, readFileSync} from 'node:fs'
import {release} from 'node:os'
import {gunzipSync} from 'node:zlib'
import {run, ok, describeRun} from '../host/exec.js'

// netkit (kernel 6.7, commit 35dfaad7188c): a veth-like pair whose driver runs BPF programs in
// its transmit routine, each end with a default policy (forward or blackhole) for when none is
// attached. Three things must hold to make one: a kernel of 6.7 or newer, built with
// CONFIG_NETKIT (a bool: built in or absent, never a module), and an `ip` that knows the type
// (iproute2 6.7; Debian 12's 6.1 does not, Debian 13's 6.15 does). Each absence is named.

export interface Support {
  ok: boolean
  /** What is there, or what is missing and what would have it. */
  reason: string
}

/** "6.18.44-…" is at least 6.7. */
export function releaseAtLeast(rel: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(rel)
  if (!m) return false
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor)
}

/** The running kernel's build config: /proc/config.gz, or /boot/config-RELEASE; undefined when neither is readable. */
export function kernelConfig(rel = release()): string | undefined {
  try {
    if (existsSync('/proc/config.gz')) return gunzipSync(readFileSync('/proc/config.gz')).toString('utf8')
    const boot = `/boot/config-${rel}`
    if (existsSync(boot)) return readFileSync(boot, 'utf8')
  } catch {
    return undefined
  }
  return undefined
}

/** Whether a config names option as set ("y"/"m"), not set, or not at all (undefined). */
export function configOption(config: string | undefined, option: string): 'set' | 'not set' | undefined {
  if (config === undefined) return undefined
  if (new RegExp(`^${option}=[ym]$`, 'm').test(config)) return 'set'
  if (new RegExp(`^# ${option} is not set$`, 'm').test(config)) return 'not set'
  return undefined
}

/** What the kernel's release and config say, without touching the host: the reason when netkit cannot be. */
export function netkitFromKernel(rel: string, config: string | undefined): Support | undefined {
  if (!releaseAtLeast(rel, 6, 7))
    return {ok: false, reason: `netkit needs kernel 6.7 or newer; this is ${rel} (Debian 13's 6.12 has it)`}
  if (configOption(config, 'CONFIG_NETKIT') === 'not set')
    return {
      ok: false,
      reason: `kernel ${rel} is built without netkit (its config says "# CONFIG_NETKIT is not set"): netkit needs a kernel built with CONFIG_NETKIT=y, as Debian 13's 6.12`,
    }
  return undefined
}

/** Whether this machine can make a netkit pair: the kernel's release and config, iproute2, then a real pair in a throwaway netns. */
export async function netkitSupport(): Promise<Support> {
  const rel = release()
  const kernel = netkitFromKernel(rel, kernelConfig(rel))
  if (kernel) return kernel
  const help = await run('ip', ['link', 'help', 'netkit'], {timeoutMs: 5000})
  if (!/netkit/.test(help.stdout + help.stderr))
    return {
      ok: false,
      reason: `ip (${(await run('ip', ['-V'], {timeoutMs: 5000})).stdout.trim()}) does not know the netkit type: it needs iproute2 6.7 or newer (Debian 13's 6.15)`,
    }
  const ns = `ebpfcni-nkprobe-${process.pid}`
  const add = await run('ip', ['netns', 'add', ns], {timeoutMs: 5000})
  if (!ok(add)) return {ok: false, reason: `could not make a netns to probe netkit in: ${describeRun(add)}`}
  try {
    const r = await run('ip', ['-n', ns, 'link', 'add', 'nkprobe0', 'type', 'netkit'], {timeoutMs: 5000})
    if (ok(r)) return {ok: true, reason: `kernel ${rel} makes netkit pairs`}
    const why = (r.stderr || r.stdout).trim().split('\n')[0]
    return {
      ok: false,
      reason: `kernel ${rel} made no netkit pair (${why}): netkit needs 6.7 or newer, built with CONFIG_NETKIT`,
    }
  } finally {
    await run('ip', ['netns', 'del', ns], {timeoutMs: 5000})
  }
}
