import {run, ok, describeRun, type RunResult} from '../host/exec.js'

// Traffic probes from inside a pod's network namespace (by path: works for named
// netns and for podman's), with busybox clients so no tool in the pod is assumed.

const inNs = (netnsPath: string, cmd: string[]): [string, string[]] => ['nsenter', [`--net=${netnsPath}`, ...cmd]]

export interface ProbeResult {
  ok: boolean
  detail: string
  body?: string
  durationMs: number
}

const probe = (r: RunResult, what: string): ProbeResult => ({
  ok: ok(r),
  detail: ok(r) ? `${what} succeeded` : `${what} failed: ${describeRun(r).replace(/^.*? exited/, 'exited')}`,
  body: r.stdout,
  durationMs: r.durationMs,
})

export async function httpGet(
  fromNetns: string,
  url: string,
  timeoutS = 2,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  // No `-T`: Debian's static busybox 1.35 wget segfaults with it; the runner's timeout bounds the wait.
  const [f, a] = inNs(fromNetns, ['busybox', 'wget', '-q', '-O', '-', url])
  const r = await run(f, a, {timeoutMs: timeoutS * 1000, maxOutputBytes: 64 * 1024, signal})
  return probe(r, `HTTP GET ${url}`)
}

/**
 * Download a URL and count the bytes that arrived (busybox wget into wc: nothing is kept). A
 * transfer of a megabyte crosses hundreds of full-sized packets: MTU and checksum faults show.
 */
export async function download(fromNetns: string, url: string, timeoutS = 10): Promise<ProbeResult & {bytes: number}> {
  const script = 'set -o pipefail; busybox wget -q -O - "$1" | wc -c'
  const [f, a] = inNs(fromNetns, ['bash', '-c', script, 'download', url])
  const r = await run(f, a, {timeoutMs: timeoutS * 1000})
  return {...probe(r, `HTTP GET ${url}`), bytes: ok(r) ? Number(r.stdout.trim()) : 0}
}

/** Ping with a payload of `size` bytes and Don't Fragment set: does a packet that big get through whole? */
export async function pingSized(fromNetns: string, ip: string, size: number, timeoutS = 2): Promise<ProbeResult> {
  const [f, a] = inNs(fromNetns, ['ping', '-c', '1', '-W', String(timeoutS), '-M', 'do', '-s', String(size), '-q', ip])
  return probe(await run(f, a, {timeoutMs: (timeoutS + 3) * 1000}), `ping ${ip} with ${size} bytes, Don't Fragment`)
}

export async function ping(fromNetns: string, ip: string, count = 1, timeoutS = 1): Promise<ProbeResult> {
  const [f, a] = inNs(fromNetns, ['ping', '-c', String(count), '-W', String(timeoutS), '-q', ip])
  return probe(await run(f, a, {timeoutMs: (count * timeoutS + 3) * 1000}), `ping ${ip}`)
}

/**
 * `count` pings 10 ms apart (with `preload`, all sent at once), each waiting at most a second: how
 * many of them got their reply. ping counts only its own echo replies (its id), so the number is
 * about these packets alone; undefined when ping printed no summary (it did not run, or `signal`
 * stopped it). Unanswered, ping paces requests 10 ms apart even with a shorter -i: a batch meant
 * to be dropped needs `preload` to go out at once.
 */
export async function pingCount(
  fromNetns: string,
  ip: string,
  count: number,
  opts: {signal?: AbortSignal; preload?: boolean} = {},
): Promise<{received?: number; detail: string}> {
  const interval = 0.01
  const preload = opts.preload ? ['-l', String(count)] : []
  const [f, a] = inNs(fromNetns, ['ping', '-c', String(count), '-i', String(interval), ...preload, '-W', '1', '-q', ip])
  const r = await run(f, a, {timeoutMs: (count * interval + 5) * 1000, signal: opts.signal})
  const m = /(\d+) (?:packets )?received/.exec(r.stdout)
  return {received: m ? Number(m[1]) : undefined, detail: m ? `${m[1]} of ${count} replies` : describeRun(r)}
}

/** TCP connect: is something listening and reachable? (bash /dev/tcp; address and port as positional args.) */
export async function tcpConnect(
  fromNetns: string,
  ip: string,
  port: number,
  timeoutS = 2,
  signal?: AbortSignal,
): Promise<ProbeResult> {
  const [f, a] = inNs(fromNetns, ['bash', '-c', 'exec 3<>"/dev/tcp/$1/$2"', 'tcp-probe', ip, String(Number(port))])
  return probe(await run(f, a, {timeoutMs: timeoutS * 1000, signal}), `TCP connect ${ip}:${port}`)
}

/**
 * Send exactly N UDP datagrams (bash /dev/udp; busybox nc has no -u here).
 * Address, port and count are positional arguments, never spliced into the script.
 */
export async function sendUdp(fromNetns: string, ip: string, port: number, count: number): Promise<ProbeResult> {
  // A fresh socket per datagram: on one connected socket, B's ICMP "port unreachable" would
  // make the next send fail unsent (ECONNREFUSED) and the count inexact.
  const script = 'set -e; for ((i = 0; i < $3; i++)); do printf x >"/dev/udp/$1/$2"; done'
  const [f, a] = inNs(fromNetns, ['bash', '-c', script, 'udp-probe', ip, String(Number(port)), String(Number(count))])
  return probe(await run(f, a, {timeoutMs: 5000 + count * 10}), `sending ${count} UDP datagrams to ${ip}:${port}`)
}

export const nsExecArgs = inNs

/** What reached a netns's UDP and TCP, IPv4 and IPv6 alike: the kernel's own SNMP counters. */
export interface Arrivals {
  /** UDP datagrams delivered to a socket or refused for want of one (InDatagrams + NoPorts, both IP versions). */
  udp: number
  /** TCP segments received (InSegs; /proc/net/snmp counts IPv4 and IPv6 together). */
  tcp: number
  /** Connections this netns opened (ActiveOpens: one per SYN sent by connect()). */
  tcpActiveOpens: number
  /** TCP segments this netns sent again (RetransSegs; a SYN unanswered for one RTO is resent). */
  tcpRetrans: number
}

/**
 * Read the counters from inside the netns: /proc/net is the reader's netns, so `cat` entered
 * into it sees that netns's counters. A datagram to a closed port still counts (NoPorts): it
 * arrived, which is what a policy check asks.
 */
export async function arrivals(netnsPath: string): Promise<Arrivals> {
  const [f, a] = inNs(netnsPath, ['cat', '/proc/net/snmp', '/proc/net/snmp6'])
  const r = await run(f, a, {timeoutMs: 5000, maxOutputBytes: 256 * 1024})
  if (!ok(r)) throw new Error(`reading the counters of ${netnsPath}: ${describeRun(r)}`)
  const snmp: Record<string, number> = {}
  const lines = r.stdout.split('\n')
  for (let i = 0; i + 1 < lines.length; i++) {
    // /proc/net/snmp: a header line "Udp: InDatagrams NoPorts …", then a values line "Udp: 5 2 …".
    const [h, v] = [lines[i].split(/\s+/), lines[i + 1].split(/\s+/)]
    if (h[0].endsWith(':') && h[0] === v[0] && isNaN(Number(h[1])))
      h.slice(1).forEach((k, j) => (snmp[`${h[0]}${k}`] = Number(v[j + 1])))
    // /proc/net/snmp6: "Udp6InDatagrams  5"
    const six = /^(\w+)\s+(\d+)$/.exec(lines[i])
    if (six) snmp[six[1]] = Number(six[2])
  }
  const n = (k: string): number => snmp[k] ?? 0
  return {
    udp: n('Udp:InDatagrams') + n('Udp:NoPorts') + n('Udp6InDatagrams') + n('Udp6NoPorts'),
    tcp: n('Tcp:InSegs'),
    tcpActiveOpens: n('Tcp:ActiveOpens'),
    tcpRetrans: n('Tcp:RetransSegs'),
  }
}

/** A TCP socket of a netns (IPv4, /proc/net/tcp): its own end, its peer's, its state. */
export interface TcpSocket {
  localPort: number
  remoteIp: string
  remotePort: number
  /** "SYN_SENT" while a connect() waits for its SYN's answer; the kernel's other names otherwise. */
  state: string
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
}

/** /proc/net/tcp's "0100000A:0050": the address as the host's u32 of the packet's bytes, the port in hex. */
function procAddr(hex: string): [string, number] {
  const [a, p] = hex.split(':')
  const n = parseInt(a, 16)
  const ip = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.')
  return [ip, parseInt(p, 16)]
}

/** /proc/net/tcp's lines as sockets (its header line skipped). */
export function parseProcNetTcp(text: string): TcpSocket[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 3 && f[1].includes(':'))
    .map((f) => {
      const [, localPort] = procAddr(f[1])
      const [remoteIp, remotePort] = procAddr(f[2])
      return {localPort, remoteIp, remotePort, state: TCP_STATES[f[3].toUpperCase()] ?? f[3]}
    })
}

/**
 * The IPv4 TCP sockets of a netns, read inside it (as arrivals reads the counters). A probe finds
 * its own connection's ephemeral port here: in a check's own pod only the probe connects.
 */
export async function tcpSockets(netnsPath: string): Promise<TcpSocket[]> {
  const [f, a] = inNs(netnsPath, ['cat', '/proc/net/tcp'])
  const r = await run(f, a, {timeoutMs: 5000, maxOutputBytes: 1024 * 1024})
  if (!ok(r)) throw new Error(`reading the TCP sockets of ${netnsPath}: ${describeRun(r)}`)
  return parseProcNetTcp(r.stdout)
}

/** What became of one HTTP request that a policy should stop, as the two pods' counters prove it. */
export type RequestFate =
  | {fate: 'answered'; detail: string}
  | {fate: 'reached'; detail: string}
  | {fate: 'dropped'; detail: string}
  | {fate: 'not-sent'; detail: string}

/**
 * A probe (started with an abort signal), ended early when `witness` proves its packets dropped:
 * then it failed, with `proven` saying how that is known. A probe whose packets cannot get through
 * is not waited out. A probe that did get through is judged by its own result, whatever the
 * witness says.
 */
export async function watchedProbe<R extends {ok: boolean} = ProbeResult>(
  start: (signal: AbortSignal) => Promise<R>,
  witness: DropWitness,
): Promise<R & {proven?: RequestFate}> {
  const stop = new AbortController()
  const probe = start(stop.signal)
  const result: {done?: R} = {}
  void probe.then((r) => (result.done = r))
  for (;;) {
    await Promise.race([probe, new Promise((r) => setTimeout(r, 50))])
    if (result.done) return result.done
    const proven = await witness()
    if (proven) {
      stop.abort()
      const r = await probe
      return r.ok ? r : {...r, ok: false, proven}
    }
  }
}

/** HTTP GET as httpGet, ended early when `witness` proves the request's packets dropped (watchedProbe). */
export const httpGetWatched = (
  fromNetns: string,
  url: string,
  timeoutS: number,
  witness: DropWitness,
): Promise<ProbeResult & {proven?: RequestFate}> =>
  watchedProbe((signal) => httpGet(fromNetns, url, timeoutS, signal), witness)

/**
 * A faster proof of a drop than the retransmission's, asked on every poll while the request is
 * open: the fate it proves for the probe's own packets, or undefined (not proven: keep waiting).
 */
export type DropWitness = () => Promise<RequestFate | undefined>

/**
 * HTTP GET from one netns to a server in another, judged by the pods' own counters, not by a timer
 * or a shared drop counter: "dropped" means the client's SYN left (its ActiveOpens rose), the client
 * sent it again after a full retransmission timeout (RetransSegs rose), and the server's netns
 * received no TCP segment meanwhile. Any segment arriving means the request got through. A SYN
 * that never left within `limitS` is a busy machine, not a drop. Only the probe talks in the client
 * netns (a check's own pod), so its counters are the probe's. A `witness` (the datapath's report
 * of this very SYN, corroborated) may prove the drop before the retransmission; a segment that
 * reached the server still outweighs it.
 */
export async function requestFate(
  fromNetns: string,
  toNetns: string,
  url: string,
  limitS = 15,
  witness?: DropWitness,
): Promise<RequestFate> {
  const [c0, s0] = await Promise.all([arrivals(fromNetns), arrivals(toNetns)])
  const stop = new AbortController()
  const probe = httpGet(fromNetns, url, limitS, stop.signal)
  const result: {done?: ProbeResult} = {}
  void probe.then((r) => (result.done = r))
  let sent = false
  for (;;) {
    const done = result.done
    await new Promise((r) => setTimeout(r, 50))
    const [c, srv] = await Promise.all([arrivals(fromNetns), arrivals(toNetns)])
    sent ||= c.tcpActiveOpens > c0.tcpActiveOpens
    const reached = srv.tcp - s0.tcp
    if (done?.ok) return {fate: 'answered', detail: done.detail}
    // The witness may prove only what the counters allow: a drop before anything reached the
    // server, or (once something did) the answer dropped on its way back.
    const proven = sent && !done ? await witness?.() : undefined
    if (reached > 0) {
      if (proven?.fate === 'reached') {
        stop.abort()
        const r = await probe
        return r.ok ? {fate: 'answered', detail: r.detail} : proven
      }
      if (!done) continue
      return {fate: 'reached', detail: `${reached} TCP segment(s) reached the server, but no answer came back`}
    }
    if (proven?.fate === 'dropped') {
      stop.abort()
      const r = await probe
      if (r.ok) return {fate: 'answered', detail: r.detail}
      return proven
    }
    if (sent && c.tcpRetrans > c0.tcpRetrans) {
      stop.abort()
      await probe
      return {
        fate: 'dropped',
        detail: 'the SYN left the client, was sent again after a retransmission timeout, and never reached the server',
      }
    }
    if (done) {
      return sent
        ? {fate: 'dropped', detail: `the SYN left the client and never reached the server (${done.detail})`}
        : {
            fate: 'not-sent',
            detail: `the client sent no SYN within ${limitS} s: the machine is too busy to judge (${done.detail})`,
          }
    }
  }
}
