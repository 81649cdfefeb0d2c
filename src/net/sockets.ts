import {run, ok, describeRun} from '../host/exec.js'
import {nsExecArgs} from './probes.js'

/**
 * Where a netns's IPv4 TCP sockets that are still connecting (SYN-SENT) are connecting to, as
 * "ip:port", one per socket: the address the kernel holds, after any cgroup connect4 rewrite.
 */
export async function connectingTo(netnsPath: string): Promise<string[]> {
  const [f, a] = nsExecArgs(netnsPath, ['ss', '-Htn4', 'state', 'syn-sent'])
  const r = await run(f, a, {timeoutMs: 5000, maxOutputBytes: 256 * 1024})
  if (!ok(r)) throw new Error(`listing the connecting sockets of ${netnsPath}: ${describeRun(r)}`)
  // Recv-Q, Send-Q, local address, peer address (the state column is left out with a state filter).
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((cols) => cols.length >= 4)
    .map((cols) => cols[3])
}
