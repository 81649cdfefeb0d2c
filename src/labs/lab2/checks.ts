import {isIPv4} from 'node:net'
import {join} from 'node:path'
import {CheckSkip, fail, type CheckDefinition} from '../../checks/engine.js'
import {pinnedProgram, type Lab2Context} from './context.js'
import {arp, ethernetOnly, ipv4Udp, ipv6, truncatedIpv4} from '../../bpf/frames.js'
import {closeFd} from '../../bpf/ffi.js'
import {objGet, PROG_TYPE, testRun} from '../../bpf/object.js'
import {xdpAttach, xdpVerdictName, XDP_ACT, XDP_FLAGS} from '../../bpf/attach.js'
import {hostPeer, link, links, xdpOff} from '../../net/ip.js'
import {httpGet} from '../../net/probes.js'
import {traceDuring} from '../../bpf/trace.js'

// Lab 2's checks: the learner's XDP program, built, verified, test-run on crafted frames,
// pinned, attached by the plugin to every pod, and seen in trace_pipe.

/**
 * trace_pipe lines printed while `send` runs (a 2-second window). trace_pipe hands out what it
 * buffered before it was opened (older pods at the same addresses, too): only later lines count.
 */
async function xdpIdOn(dev: string): Promise<number | undefined> {
  const l = await link(dev)
  return l?.xdp?.prog?.id ?? l?.xdp?.attached?.[0]?.prog.id
}

export const LAB2_CHECKS: Array<CheckDefinition<Lab2Context>> = [
  {
    id: 'bpf.compiles',
    cost: 'cheap',
    title: 'ebpfcni.bpf.c compiles with clang -target bpf',
    hint: 'Run `ebpfcni bpf build` to see each error with its line and a caret.',
    run: async (ctx) => {
      const b = await ctx.program.built()
      if (!b.ok) {
        const first = b.diagnostics.find((d) => d.severity === 'error')
        fail(
          first
            ? `${b.errors} error(s); first: ${first.file.split('/').pop()}:${first.line}:${first.column}: ${first.message}`
            : (b.problem ?? 'clang failed'),
        )
      }
      return `compiled${b.warnings ? ` with ${b.warnings} warning(s)` : ''}`
    },
  },
  {
    id: 'bpf.verifier-accepts',
    cost: 'cheap',
    title: 'the verifier accepts the program, and it has an XDP program named xdp_prog',
    hint: 'Read the source line and the explanation: most refusals are a header read without a bounds check before it.',
    run: async (ctx) => {
      const l = await ctx.program.loaded()
      if (!l.ok) {
        const v = l.verifier
        if (!v) fail('the kernel refused the program, and the verifier left no log')
        fail(
          `the verifier refused it${v.source ? ` at ${v.source.file.split('/').pop()}:${v.source.line} (${v.source.text})` : ''}: ${v.lastLines.at(-1) ?? ''}`,
          v.explanation,
        )
      }
      if (!l.fds.has('xdp_prog'))
        fail(
          `no program named xdp_prog; found: ${[...l.fds.keys()].join(', ') || 'none'}`,
          'keep the starter\'s function name: SEC("xdp") int xdp_prog(struct xdp_md *ctx)',
        )
      return `loaded; tag ${l.tag}`
    },
  },
  {
    id: 'bpf.test-run',
    cost: 'cheap',
    title: 'crafted frames get XDP_PASS: IPv4, ARP, IPv6, a bare Ethernet header, a truncated IPv4 header',
    hint: 'Every path returns XDP_PASS in this lab: a frame too short for a header is passed, not aborted or dropped.',
    run: async (ctx) => {
      const fd = await ctx.program.programFd()
      const frames: Array<[string, Buffer]> = [
        ['IPv4/UDP 10.10.0.2 → 10.10.0.3', ipv4Udp('10.10.0.2', '10.10.0.3')],
        ['ARP', arp()],
        ['IPv6', ipv6()],
        ['a bare 14-byte Ethernet header announcing IPv4', ethernetOnly()],
        ['an IPv4 header cut off after 10 bytes', truncatedIpv4()],
      ]
      const wrong = frames
        .map(([what, f]) => [what, testRun(fd, f).retval] as const)
        .filter(([, v]) => v !== XDP_ACT.PASS)
      if (wrong.length)
        fail(wrong.map(([what, v]) => `${what} got ${xdpVerdictName(v)}`).join('; ') + '; expected XDP_PASS for each')
      return `${frames.length} frames, all XDP_PASS`
    },
  },
  {
    id: 'bpf.pinned',
    cost: 'cheap',
    title: 'the program is pinned where the plugin attaches it, and is the current build',
    hint: 'ebpfcni bpf build && ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace',
    run: async (ctx) => {
      const pin = ctx.program.xdpPin()
      const p = pinnedProgram(pin)
      if (!p) fail(`nothing is pinned at ${pin}`)
      if (p.type !== PROG_TYPE.XDP) fail(`${pin} holds a program of type ${p.type}, not XDP (${PROG_TYPE.XDP})`)
      const l = await ctx.program.loaded()
      if (l.ok && l.tag && l.tag !== p.tag)
        fail(
          `the pinned program (tag ${p.tag}) is not the one your current source builds (tag ${l.tag}): the pin is stale`,
          'load it again with --replace after each edit',
        )
      return `${pin}: XDP program ${p.id}, tag ${p.tag}`
    },
  },
  {
    id: 'cni.add.attaches-xdp',
    title: "ADD attaches the pinned program to every pod's host veth",
    hint: 'In ADD, after `ip link set "$hostveth" master …`: ip link set dev "$hostveth" xdpgeneric pinned /sys/fs/bpf/ebpfcni/xdp_prog',
    run: async (ctx) => {
      const pinned = pinnedProgram(ctx.program.xdpPin())
      if (!pinned) throw new CheckSkip('needs the program pinned (bpf.pinned)')
      const pods = [await ctx.plugin.podA(), await ctx.plugin.podB()]
      for (const p of pods) {
        if (!p.outcome.ok) fail(`ADD failed: ${p.outcome.problem}`)
        const host = await hostPeer(p.netnsPath, p.att.ifname)
        if (!host) fail(`cannot find pod ${p.name}'s host veth`)
        const id = await xdpIdOn(host.ifname)
        if (!id) fail(`pod ${p.name}'s host veth ${host.ifname} has no XDP program`)
        if (id !== pinned.id)
          fail(
            `${host.ifname} runs XDP program ${id}, not the pinned one (${pinned.id}): attach the pinned program rather than loading a copy`,
          )
      }
      return `both pods' host veths run program ${pinned.id}`
    },
  },
  {
    id: 'cni.add.needs-pin',
    title:
      "with nothing pinned at the config's xdpPin, ADD fails with an error naming the pin, and leaves no veth and no address",
    hint: 'Before attaching: [ -e "$xdp_pin" ] || fail "no XDP program pinned at $xdp_pin" — fail (not error) so the veth and the address are undone; never `|| true` on the attach.',
    run: async (ctx) => {
      // A pin path that cannot exist: this check's own, under a directory nobody made.
      const pin = join(ctx.pods.tmp, 'no-such-pin', 'xdp_prog')
      const net = ctx.plugin.checkNet('nopin', {xdpPin: pin}) // a /29: 5 addresses
      const bridge = ctx.plugin.bridgeOf(net)
      for (let i = 0; i < 5; i++) {
        const p = await ctx.pods.attach(net, `nopin${i}`)
        if (p.outcome.ok)
          fail(
            `ADD succeeded with nothing pinned at ${pin}: a pod without the program it should run`,
            'check the pin exists before attaching, and fail the ADD if it does not (an `|| true` hides it)',
          )
        const err = p.outcome.calls.at(-1)?.error
        if (!err) fail(`ADD without the pin failed without an error JSON: ${p.outcome.problem}`)
        if (!`${err.msg} ${err.details ?? ''}`.includes(pin))
          fail(`ADD without the pin failed with "${err.msg}", which does not name the pin ${pin}`)
        if (await link(p.att.ifname, p.netnsName)) fail(`the failed ADD left ${p.att.ifname} in the pod's netns`)
      }
      const stray = (await links()).filter((l) => l.master === bridge)
      if (stray.length)
        fail(
          `after 5 ADDs failed for want of the pin, ${stray.length} veth(s) are left on ${bridge}: ${stray.map((l) => l.ifname).join(', ')}`,
          'fail undoes what the ADD made: use it for the missing pin too',
        )
      // Five failed ADDs in a /29: if any kept its address, the sixth (with the real pin) finds none.
      const real = ctx.plugin.checkNet('nopin', {xdpPin: ctx.program.xdpPin()})
      if (pinnedProgram(ctx.program.xdpPin())) {
        const ok = await ctx.pods.attach(real, 'nopin-after')
        if (!ok.outcome.ok)
          fail(
            `after 5 ADDs failed for want of the pin, an ADD with the pin failed in the same /29: ${ok.outcome.problem}`,
          )
      }
      return `5 ADDs without a pin failed naming ${pin}; no veth left on ${bridge}, and the /29 still had an address`
    },
  },
  {
    id: 'bpf.traffic-passes',
    title: 'pods still reach each other with the program attached',
    hint: 'A program that returns XDP_DROP or XDP_ABORTED on a path real traffic takes (ARP) breaks the pods.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      if (!b.ip) throw new CheckSkip('needs two pods')
      const r = await httpGet(b.netnsPath, `http://${a.ip}/get`)
      if (!r.ok) fail(`sleep pod ${b.ip} → httpbin pod ${a.ip}: ${r.detail}`)
      return `${b.ip} → ${a.ip} HTTP 200`
    },
  },
  {
    id: 'bpf.trace-shows-traffic',
    title: 'traffic between two pods appears in trace_pipe with both addresses',
    hint: 'bpf_printk("ebpfcni: src=%pI4 dst=%pI4", &ip->saddr, &ip->daddr); — then reload (--replace) and make new pods.',
    run: async (ctx) => {
      const a = await ctx.plugin.healthyA()
      const b = await ctx.plugin.podB()
      const [aIp, bIp] = [a.ip, b.ip]
      if (!aIp || !bIp) throw new CheckSkip('needs two pods')
      const lines = await traceDuring(async () => {
        for (let i = 0; i < 3; i++) await httpGet(b.netnsPath, `http://${aIp}/get`)
      })
      const ips = (l: string): string[] => (l.match(/\b\d{1,3}(\.\d{1,3}){3}\b/g) ?? []).filter((x) => isIPv4(x))
      const both = lines.filter((l) => ips(l).includes(aIp) && ips(l).includes(bIp))
      if (both.length === 0) {
        const mentioning = lines.filter((l) => ips(l).includes(aIp) || ips(l).includes(bIp))
        fail(
          lines.length === 0
            ? 'trace_pipe showed nothing while the pods talked'
            : mentioning.length
              ? `lines mention one pod but never both: ${JSON.stringify(mentioning[0].trim().slice(-100))}`
              : `${lines.length} trace line(s), none with the pods' addresses ${b.ip} and ${a.ip}; e.g. ${JSON.stringify(lines[0].trim().slice(-100))}`,
        )
      }
      return `${both.length} line(s) with ${b.ip} and ${a.ip}, e.g. ${both[0].trim().slice(-60)}`
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
      const pair = (l: string): string =>
        (l.match(/\b\d{1,3}(\.\d{1,3}){3}\b/g) ?? [])
          .filter((x) => isIPv4(x))
          .slice(0, 2)
          .join('>')
      const sent = lines.filter((l) => pair(l) === `${b.ip}>${a.ip}`).length
      const toPod = lines.filter((l) => pair(l) === `${a.ip}>${b.ip}`).length
      if (sent === 0 && toPod > 0)
        fail(
          `with the program on sleep's veth only, ${toPod} line(s) read ${a.ip} → ${b.ip} and none ${b.ip} → ${a.ip}: your printk prints the destination first`,
        )
      if (sent === 0)
        fail(
          `with the program on sleep's veth only, no trace line showed sleep ${b.ip} → httpbin ${a.ip} while sleep sent 3 HTTP requests`,
        )
      if (toPod > 0)
        fail(
          `${toPod} line(s) read httpbin ${a.ip} → sleep ${b.ip} with the program on sleep's veth only: XDP does not see traffic toward the pod, so these lines print something else than saddr, daddr`,
        )
      return `program on sleep's veth only: ${sent} line(s) sleep → httpbin (what sleep sent), 0 httpbin → sleep (the replies went through the same veth toward the pod, unseen)`
    },
  },
  {
    id: 'cni.del.detaches',
    title: 'DEL leaves no XDP attachment behind',
    hint: 'Deleting the host veth detaches the program; if your DEL keeps the veth, detach with: ip link set dev VETH xdpgeneric off',
    run: async (ctx) => {
      const net = ctx.plugin.learnerNet()
      const p = await ctx.pods.attach(net, 'detach')
      if (!p.outcome.ok) throw new CheckSkip(`needs a successful ADD (${p.outcome.problem})`)
      const host = await hostPeer(p.netnsPath, p.att.ifname)
      const del = await ctx.pods.detach(p, {keepNetns: true})
      if (!del.ok) fail(`DEL failed: ${del.problem}`)
      if (host && (await link(host.ifname)) && (await xdpIdOn(host.ifname)))
        fail(`after DEL, ${host.ifname} still exists and still runs an XDP program`)
      await ctx.pods.detach(p).catch(() => undefined)
      return 'after DEL no veth (and no program) is left'
    },
  },
]

/** One of lab 2's checks, for the labs that build on it (3 and 4 compile and verify the same way). */
export const lab2Check = <Ctx extends Lab2Context>(id: string): CheckDefinition<Ctx> =>
  LAB2_CHECKS.find((c) => c.id === id) as CheckDefinition<Ctx>
