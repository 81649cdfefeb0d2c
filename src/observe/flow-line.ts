import chalk, {Chalk} from 'chalk'
import type {Flow, FlowEnd} from './flow-names.js'

// One flow per line, in Hubble's shape: time, who to whom, protocol and flags, the program that
// decided, the verdict, the reason and the rule or policy behind it.
//   12:01:07.123 sleep:41234 -> httpbin:8080 TCP SYN  to_pod  DROPPED  isolated, no rule allows it (policy …)

const plain = new Chalk({level: 0})

const endText = (e: FlowEnd): string =>
  `${e.pod ?? (e.podUnknown ? `${e.ip}(pod unknown)` : e.ip)}${e.port ? `:${e.port}` : ''}`
/** Without IPv4 addresses (IPv6, a short frame) the interface is what says where. */
const ends = (f: Flow): string =>
  f.src.ip ? `${endText(f.src)} -> ${endText(f.dst)}` : `on ${f.interface ?? `ifindex ${f.ifindex}`}`

/** color: false for messages and files; time: false where the moment is not the point (check messages). */
export function flowLine(f: Flow, opts: {color?: boolean; time?: boolean} = {}): string {
  const c = opts.color === false ? plain : chalk
  const time = f.time.slice(11, 23)
  if (f.verdict === 'TRANSLATED')
    // 12:01:07.123 10.96.6.10:80 => 10.244.66.3:80 TCP  connect4  TRANSLATED a Service's VIP, … (socket of pod client)
    return [
      ...(opts.time === false ? [] : [c.dim(time)]),
      `${endText(f.src)} => ${endText(f.dst)}`,
      f.proto.padEnd(11),
      f.program.padEnd(9),
      c.cyan('TRANSLATED'),
      `${f.reasonText} (socket of ${f.socket?.pod ? `pod ${f.socket.pod}` : `cgroup id ${f.socket?.cgroupId ?? '?'}`})`,
    ].join(' ')
  const verdict = f.verdict === 'DROPPED' ? c.red.bold('DROPPED  ') : c.green('FORWARDED')
  const why = [f.policy, f.nearMiss, f.returned].filter(Boolean).join(': ')
  return [
    ...(opts.time === false ? [] : [c.dim(time)]),
    ...(f.check ? [c.magenta(`[check ${f.check}]`)] : []),
    ends(f),
    `${f.proto}${f.tcpFlags ? ` ${f.tcpFlags}` : ''}`.padEnd(11),
    f.program.padEnd(9),
    verdict,
    `${f.reasonText}${why ? ` (${why})` : ''}`,
  ].join(' ')
}
