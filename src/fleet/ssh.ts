import {run, type RunResult} from '../host/exec.js'
import {interrupted} from '../host/interrupt.js'
import type {FleetHost} from './hosts.js'

// The fleet over SSH: one `ssh` child per host, never more than the pool's size at once, each with
// a time limit of its own, so a host that hangs after connecting costs its own limit and no more.
// OpenSSH's client does the work (keys, agents, known_hosts, ProxyJump in ~/.ssh/config).

export interface SshOptions {
  /** A private key file (-i). */
  identity?: string
  /** The user when a host line names none. */
  user?: string
  /** `-o KEY=VALUE` options passed through (UserKnownHostsFile, ProxyJump, …). */
  options?: string[]
  /** Seconds for the TCP connection and the SSH handshake. */
  connectTimeoutS: number
  /** The whole command on one host, connection included. */
  timeoutMs: number
}

export function sshArgs(host: FleetHost, o: SshOptions, remote: readonly string[]): string[] {
  const user = host.user ?? o.user
  return [
    // ssh takes the first value it sees for an option: the instructor's own come first and win.
    ...(o.options ?? []).flatMap((opt) => ['-o', opt]),
    '-T',
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${o.connectTimeoutS}`,
    '-o',
    'StrictHostKeyChecking=accept-new',
    '-o',
    'LogLevel=ERROR',
    // OpenSSH 9's default key exchange (sntrup761x25519) costs the client ~0.1 s of CPU per host;
    // curve25519 first (the others still offered) makes 500 hosts cheap on an instructor's laptop.
    '-o',
    'KexAlgorithms=^curve25519-sha256',
    ...((host.identity ?? o.identity)
      ? ['-i', host.identity ?? (o.identity as string), '-o', 'IdentitiesOnly=yes']
      : []),
    ...(host.port ? ['-p', String(host.port)] : []),
    ...(user ? ['-l', user] : []),
    '--',
    host.address,
    ...remote,
  ]
}

export interface FleetOptions extends SshOptions {
  concurrency: number
  /** The ebpfcni command on the VMs (setup links it into /usr/local/bin). */
  remoteCommand: string
}

export interface HostRun {
  host: FleetHost
  ok: boolean
  stdout: string
  /** What went wrong, in the instructor's words; empty when ok. */
  message: string
  durationMs: number
}

/** ssh's exit and stderr, as a sentence. */
export function describeSshFailure(r: RunResult, o: SshOptions, remote: readonly string[]): string {
  if (r.startError) return `could not start ssh: ${r.startError}`
  if (r.timedOut)
    return `no answer within ${Math.round(o.timeoutMs / 1000)} s: the host accepted and then hung, or ${remote.join(' ')} did`
  if (r.outputCapped) return `printed more than the output cap; stopped`
  const err = r.stderr.trim().split('\n').filter(Boolean).slice(-1)[0] ?? ''
  if (r.exitCode === 255) {
    if (/Connection refused/i.test(err)) return 'down: nothing listens on its SSH port (connection refused)'
    if (/timed out|No route to host|Network is unreachable|Host is down/i.test(err))
      return `unreachable: ${err.replace(/^ssh: /, '')}`
    if (/Could not resolve hostname/i.test(err)) return `no such host: ${err.replace(/^ssh: /, '')}`
    if (/Permission denied/i.test(err))
      return 'SSH refused the key (give one with --identity, or add it with fleet user-data --ssh-key)'
    if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(err))
      return 'its host key is not the one known_hosts has (a re-made VM? remove its line with ssh-keygen -R)'
    return `ssh failed: ${err || 'exit 255'}`
  }
  if (r.exitCode === 127) return `${remote[0]} is not installed there (exit 127)`
  // What the host said goes with the exit: on stderr, and on stdout too (a command= key option
  // such as cloud-init's disable_root prints its reason there; ebpfcni --json prints its error there).
  const out = quoteOutput(r.stdout)
  const said = [err.slice(0, 200), out && `it printed "${out}"`].filter(Boolean).join('; ')
  const rootRefused = /Please login as the user "([^"]+)" rather than the user "root"/.exec(r.stdout)
  return `${remote.join(' ')} exited ${r.exitCode}${said ? `: ${said}` : ''}${
    rootRefused
      ? ` (cloud-init's disable_root: the VM lets in only "${rootRefused[1]}"; fleet user-data's config lets root in with your key)`
      : ''
  }`
}

/** A failed command's stdout, short: an ebpfcni --json error's message, or its first lines. */
function quoteOutput(stdout: string): string {
  const text = stdout.trim()
  if (!text) return ''
  try {
    const message = (JSON.parse(text) as {error?: {message?: unknown}}).error?.message
    if (typeof message === 'string') return message.slice(0, 200)
  } catch {
    // not JSON: the text itself
  }
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  return `${lines.slice(0, 2).join(' ').slice(0, 200)}${lines.length > 2 ? ' …' : ''}`
}

/** Did the failure say the host is not there at all (down, unreachable, unknown), not that it misbehaved? */
export const hostDown = (r: HostRun): boolean => !r.ok && /^(down|unreachable|no such host)/.test(r.message)

export async function runOnHost(host: FleetHost, remote: readonly string[], o: SshOptions): Promise<HostRun> {
  const r = await run('ssh', sshArgs(host, o, remote), {timeoutMs: o.timeoutMs, maxOutputBytes: 4 * 1024 * 1024})
  const ok = r.exitCode === 0 && !r.timedOut && !r.startError && !r.outputCapped
  return {host, ok, stdout: r.stdout, message: ok ? '' : describeSshFailure(r, o, remote), durationMs: r.durationMs}
}

/**
 * `fn` over every item with at most `limit` running at once; results in the items' order.
 * `onDone` sees each as it finishes (progress). After Ctrl-C no new item starts.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  onDone?: (result: R, done: number) => void,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < items.length && !interrupted()) {
      const i = next++
      results[i] = await fn(items[i])
      onDone?.(results[i], ++done)
    }
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(limit, items.length))}, worker))
  return results
}
