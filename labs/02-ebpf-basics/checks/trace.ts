import {isIPv4} from 'node:net'
import {CheckSkip, fail, type CheckDefinition} from '#checks/engine.js'
import {pinnedProgram, type Lab2Context} from '../context.js'
import {closeFd} from '#bpf/ffi.js'
import {objGet, testRun} from '#bpf/object.js'
import {ipv4Udp} from '#bpf/frames.js'
import {xdpAttach, xdpVerdictName, XDP_FLAGS} from '#bpf/attach.js'
import {hostPeer, xdpOff} from '#net/ip.js'
import {httpGet} from '#net/probes.js'
import {traceDuring} from '#bpf/trace.js'
import {printed, staleProgram, xdpIdOn} from './shared.js'

/** Step trace's checks (lab.yaml orders the run). */
export const TRACE_CHECKS: Array<CheckDefinition<Lab2Context>> = [
  {
    id: 'bpf.trace-shows-traffic',
    title: 'traffic between two pods appears in trace_pipe with both addresses',
    hint: 'bpf_printk("ebpfcni: src=%pI4 dst=%pI4", &ip->saddr, &ip->daddr); — then rebuild and reload (--replace): every veth that ran the old program runs the new one.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      const [aIp, bIp] = [a.ip, b.ip]
      if (!aIp || !bIp) throw new CheckSkip('needs two pods')
      const lines = await traceDuring(async () => {
        for (let i = 0; i < 3; i++) await httpGet(b.netnsPath, `http://${aIp}/get`)
      })
      const both = lines.filter((l) => ips(l).includes(aIp) && ips(l).includes(bIp))
      if (both.length === 0) {
        // The same silence comes from a program never reloaded after the edit: the pods run the pin.
        const stale = await staleProgram(ctx, 'the pinned program the pods run')
        if (stale)
          fail(
            `${lines.length === 0 ? 'trace_pipe showed nothing' : `no trace line had both ${b.ip} and ${a.ip}`} while the pods talked, and ${stale.message}`,
            stale.hint,
          )
        if (lines.length === 0) {
          const silent = await silentOnIpv4(ctx, bIp, aIp)
          if (silent) fail(`trace_pipe showed nothing while the pods talked, and ${silent}`, SILENT_HINT)
        }
        const mentioning = lines.filter((l) => ips(l).includes(aIp) || ips(l).includes(bIp))
        const zeros = lines.filter(zeroAddresses)
        if (!mentioning.length && zeros.length)
          fail(
            `${lines.length} trace line(s) while the pods talked, none with their addresses ${b.ip} and ${a.ip}: ${zeros.length} read 0.0.0.0, e.g. ${quote(zeros[0])}, what %pI4 prints when it is given an address's value instead of a pointer to it`,
            POINTER_HINT,
          )
        fail(
          lines.length === 0
            ? 'trace_pipe showed nothing while the pods talked'
            : mentioning.length
              ? `lines mention one pod but never both: ${quote(mentioning[0])}`
              : `${lines.length} trace line(s), none with the pods' addresses ${b.ip} and ${a.ip}; e.g. ${quote(lines[0])}`,
        )
      }
      return `${both.length} line(s) with ${b.ip} and ${a.ip}, e.g. ${quote(both[0])}`
    },
  },
  {
    id: 'bpf.direction',
    title: "XDP on a pod's host veth sees what the pod sends, never what is sent to it",
    hint: 'Print the source first: bpf_printk("ebpfcni: src=%pI4 dst=%pI4", &ip->saddr, &ip->daddr). The replies to sleep pass its veth too, but toward the pod: only TC (egress) would see them.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.ip || !a.ip) throw new CheckSkip('needs two pods')
      const hostA = await hostPeer(a.netnsPath, a.att.ifname)
      if (!hostA) throw new CheckSkip("needs the host side of the httpbin pod's veth")
      if (!pinnedProgram(ctx.program.xdpPin()))
        throw new CheckSkip(`needs the program pinned at ${ctx.program.xdpPin()} (bpf.pinned)`)
      if (!(await xdpIdOn(hostA.ifname)))
        throw new CheckSkip("needs the program attached to the pods' veths (cni.add.attaches-xdp)")
      // Only sleep's veth keeps the program: what it prints is all that veth's XDP sees, both ways.
      await xdpOff(hostA.ifname)
      let lines: string[]
      try {
        lines = await traceDuring(async () => {
          for (let i = 0; i < 3; i++) await httpGet(b.netnsPath, `http://${a.ip}/get`)
        })
      } finally {
        const fd = objGet(ctx.program.xdpPin())
        try {
          xdpAttach(hostA.ifindex, fd, XDP_FLAGS.SKB_MODE)
        } finally {
          closeFd(fd)
        }
      }
      const pair = (l: string): string => ips(l).slice(0, 2).join('>')
      const sent = lines.filter((l) => pair(l) === `${b.ip}>${a.ip}`).length
      const toPod = lines.filter((l) => pair(l) === `${a.ip}>${b.ip}`).length
      if (sent === 0 && toPod > 0)
        fail(
          `with the program on sleep's veth only, ${toPod} line(s) read ${a.ip} → ${b.ip} and none ${b.ip} → ${a.ip}: your printk prints the destination first`,
        )
      if (sent === 0) {
        const seen = `with the program on sleep's veth only, no trace line showed sleep ${b.ip} → httpbin ${a.ip} while sleep sent 3 HTTP requests`
        const stale = await staleProgram(ctx, 'the pinned program the pods run')
        if (stale) fail(`${seen}, and ${stale.message} (as bpf.trace-shows-traffic says)`, stale.hint)
        // Which address comes first can only be judged from lines that carry the pods' addresses.
        if (!lines.some((l) => ips(l).includes(a.ip!) || ips(l).includes(b.ip!))) {
          const zeros = lines.filter(zeroAddresses)
          if (zeros.length)
            fail(
              `${seen}: ${zeros.length} line(s) read 0.0.0.0, e.g. ${quote(zeros[0])}, what %pI4 prints when it is given an address's value instead of a pointer to it`,
              POINTER_HINT,
            )
          fail(
            `${seen}, nor any line with the pods' addresses at all: no direction to judge until bpf.trace-shows-traffic passes`,
            "bpf.trace-shows-traffic's message and hint name the cause (it runs first: ebpfcni check 2 --step trace); this check judges which address comes first once lines carry the pods' addresses.",
          )
        }
        fail(seen)
      }
      if (toPod > 0)
        fail(
          `${toPod} line(s) read httpbin ${a.ip} → sleep ${b.ip} with the program on sleep's veth only: XDP does not see traffic toward the pod, so these lines print something else than saddr, daddr`,
        )
      return `program on sleep's veth only: ${sent} line(s) sleep → httpbin (what sleep sent), 0 httpbin → sleep (the replies went through the same veth toward the pod, unseen)`
    },
  },
]

/** The IPv4 addresses a trace line printed. */
const ips = (l: string): string[] => (printed(l).match(/\b\d{1,3}(\.\d{1,3}){3}\b/g) ?? []).filter((x) => isIPv4(x))

/** A line whose addresses are all 0.0.0.0: %pI4 could not read through what it was given (a value, not a pointer). */
const zeroAddresses = (l: string): boolean => ips(l).length > 0 && ips(l).every((x) => x === '0.0.0.0')

/** A trace line as a message quotes it: what the program printed, at most 100 characters. */
const quote = (l: string): string => JSON.stringify(printed(l).slice(0, 100))

const POINTER_HINT =
  '%pI4 takes a pointer to the address, not its value: bpf_printk("ebpfcni: src=%pI4 dst=%pI4", &ip->saddr, &ip->daddr); (with the &), then ebpfcni bpf build && ebpfcni bpf load --replace.'

const SILENT_HINT =
  'Look at the returns above your bpf_printk: `eth->h_proto` is in network byte order (compare it with bpf_htons(ETH_P_IP), not ETH_P_IP), and a well-formed IPv4 header (ihl 5) must get past the IPv4 checks.'

/**
 * When the pods' traffic printed nothing: a test run of the pinned program on one IPv4/UDP frame
 * between the pods' addresses, read from trace_pipe. Says what it proved when that printed nothing
 * either (the program returns before its printk for IPv4); undefined when it printed (then the
 * pods' veths do not run the pin) or when no pin can be run.
 */
async function silentOnIpv4(ctx: Lab2Context, src: string, dst: string): Promise<string | undefined> {
  if (!pinnedProgram(ctx.program.xdpPin())) return undefined
  const fd = objGet(ctx.program.xdpPin())
  let retval = -1
  try {
    const lines = await traceDuring(async () => {
      retval = testRun(fd, ipv4Udp(src, dst)).retval
    })
    const addrs = (l: string): string[] => l.match(/\b\d{1,3}(\.\d{1,3}){3}\b/g) ?? []
    if (lines.some((l) => addrs(l).includes(src) && addrs(l).includes(dst))) return undefined
  } finally {
    closeFd(fd)
  }
  return `a test run of the pinned program (the build you loaded last) on one IPv4/UDP frame ${src} → ${dst} printed nothing either (it returned ${xdpVerdictName(retval)}): it returns before its bpf_printk for IPv4 frames`
}
