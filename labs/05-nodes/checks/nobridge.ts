import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {fail, CheckSkip, type CheckDefinition} from '#checks/engine.js'
import {links} from '#net/ip.js'
import {tcpConnect} from '#net/probes.js'
import {objGet} from '#bpf/object.js'
import {closeFd} from '#bpf/ffi.js'
import {mapDelete, mapUpdate} from '#bpf/map-ops.js'
import {ipv4Key} from '#bpf/counters.js'
import {u32} from '#policy/maps.js'
import {VERDICT} from '#policy/resolve.js'
import type {Lab5Context} from '../context.js'
import {MIB, talk, hostVeth, forwarded, withDropAll, FORWARDED_AT_MOST} from './shared.js'

// Step 3: the node's pods without a bridge, handed over with bpf_redirect_peer. Each check proves
// its own packets' fate: the pods talk; a TC_ACT_SHOT program on the destination veths' egress
// (ebpfcni's bpf/tool/drop_all.bpf.c) does not stop them and drops no IPv4 packet;
// the node's IPv4 forwarding counter does not move while they talk; with a lab 4 deny rule in
// the node's policy map, one pod cannot open a connection to the other, and can once it is gone.

export const NOBRIDGE_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.no-bridge',
    title: 'no bridge on the node, and two of its pods ping each other and move 1 MiB over TCP',
    hint: '"noBridge": true in 10-ebpfcni.conf, then wire_pod_nobridge: the /32, the 169.254.1.1 route and neighbour, the node\'s /32 route, endpoint_add, attach_from_pod.',
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const bridges = (await links(c.a.netnsName)).filter((l) => l.linkinfo?.info_kind === 'bridge')
      if (bridges.length)
        fail(
          `node ${c.a.name} has a bridge (${bridges.map((b) => b.ifname).join(', ')}): with "noBridge": true the plugin must wire pods without one`,
        )
      const wrong = await talk({pod: c.podA}, {pod: c.podA2})
      if (wrong.length) fail(`between the two pods of node ${c.a.name}: ${wrong.join('; ')}`)
      return `no bridge on node ${c.a.name}; ${c.podA.ip} ⇄ ${c.podA2.ip}: ping and ${MIB} bytes each way`
    },
  },
  {
    id: 'nodes.redirect-peer',
    title: "with TC_ACT_SHOT on the destination veths' egress, the pods still talk: bpf_redirect_peer skipped it",
    hint: 'pod_packet must end in return bpf_redirect_peer(ep->ifindex, 0) for a pod of the node; bpf_redirect (no _peer) sends the packet out of the host veth, through its egress.',
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const pair = () => talk({pod: c.podA}, {pod: c.podA2})
      if ((await pair()).length) throw new CheckSkip('needs the two pods to talk first (nodes.no-bridge)')
      const veths = [await hostVeth(c.a, c.podA), await hostVeth(c.a, c.podA2)]
      const {result: wrong, droppedIpv4} = await withDropAll(
        ctx,
        c,
        veths.map((veth) => ({node: c.a, veth})),
        pair,
      )
      if (wrong.length)
        fail(
          `with TC_ACT_SHOT on the egress of ${veths.join(' and ')}: ${wrong[0]}; drop_all dropped ${droppedIpv4} IPv4 packets there: they came out of the host veth (the node's stack, or bpf_redirect), not through bpf_redirect_peer to its peer`,
        )
      if (droppedIpv4 > 0n)
        fail(
          `drop_all on the egress of ${veths.join(' and ')} dropped ${droppedIpv4} IPv4 packets while the pods talked`,
        )
      return `drop_all on the egress of ${veths.join(' and ')} saw none of the pods' IPv4 packets, and they still talked`
    },
  },
  {
    id: 'nodes.deny-at-source',
    title: "lab 4's deny still holds without the bridge: from_pod drops what a rule denies, before it redirects",
    hint: "First thing in pod_packet, once the headers are parsed: if (denied(ip)) return TC_ACT_SHOT; bpf_redirect_peer skips the destination host veth, so a program there (lab 4's to_pod) never sees the packet.",
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const [from, to] = [c.podA, c.podA2]
      // A pod-to-pod connect on one node takes well under a millisecond, a thousand times less
      // than this on a slow VM; the one after the rule is removed shows the path is that fast now.
      const connect = () => tcpConnect(from.netnsPath, to.ip, 80, 1.5)
      if (!(await connect()).ok)
        throw new CheckSkip(`needs ${from.ip} to connect to ${to.ip}:80 first (nodes.no-bridge)`)
      const pin = join(c.cluster.nodePinDir(c.a), 'policy')
      if (!existsSync(pin))
        fail(
          `node ${c.a.name} has no pinned map "policy" (${pin}): forward.bpf.c needs the ready-made policy map of the starter`,
        )
      const fd = objGet(pin)
      // Lab 4's ip-pair rule, as `policy deny` writes it: struct ip_pair {saddr, daddr} -> POLICY_DENY.
      const key = Buffer.concat([ipv4Key(from.ip), ipv4Key(to.ip)])
      try {
        mapUpdate(fd, key, u32(VERDICT.deny))
        const denied = await connect()
        mapDelete(fd, key)
        const after = await connect()
        if (denied.ok)
          fail(
            `with a deny rule for ${from.ip} → ${to.ip} in node ${c.a.name}'s policy map, a TCP connection from ${from.ip} to ${to.ip}:80 was still made: nothing on its way asked the rule`,
          )
        if (!after.ok)
          fail(
            `${from.ip} could not connect to ${to.ip}:80 even after the deny rule was removed (${after.detail}): from_pod drops more than the rule says`,
          )
        return `with a deny rule for ${from.ip} → ${to.ip}, TCP to ${to.ip}:80 failed; with it removed, it connected`
      } finally {
        mapDelete(fd, key)
        closeFd(fd)
      }
    },
  },
  {
    id: 'nodes.stack-skipped',
    title: "the node's IPv4 forwarding counter stays flat while 1 MiB crosses between its pods",
    hint: "A packet from_pod returns TC_ACT_OK for goes up the node's stack and is forwarded (ForwDatagrams grows): look the destination up in endpoints and redirect it.",
    run: async (ctx) => {
      const c = await ctx.sameNode()
      const before = await forwarded(c.a)
      const wrong = await talk({pod: c.podA}, {pod: c.podA2})
      const n = (await forwarded(c.a)) - before
      if (wrong.length) throw new CheckSkip(`needs the two pods to talk (nodes.no-bridge: ${wrong[0]})`)
      if (n > FORWARDED_AT_MOST)
        fail(
          `node ${c.a.name} forwarded ${n} IPv4 datagrams (/proc/net/snmp ForwDatagrams) while ${MIB} bytes crossed each way between ${c.podA.ip} and ${c.podA2.ip}: they went through its IP stack, not bpf_redirect_peer`,
        )
      return `node ${c.a.name} forwarded ${n} IPv4 datagrams while ${MIB} bytes crossed each way between its pods`
    },
  },
]
