import {fail, type CheckDefinition} from '#checks/engine.js'
import {link} from '#net/ip.js'
import {pingSized} from '#net/probes.js'
import type {CheckCluster, Lab5Context} from '../context.js'
import {crossNode} from './shared.js'

/** Run `body` with the run's underlay strict (dropping pod addresses), then open again. */
async function strictly<T>(c: CheckCluster, body: () => Promise<T>): Promise<T> {
  c.cluster.underlay.configure(true)
  try {
    return await body()
  } finally {
    c.cluster.underlay.configure(false)
  }
}

/** Step overlay's checks (lab.yaml orders the run). */
export const OVERLAY_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  {
    id: 'nodes.overlay',
    title:
      'with the underlay dropping pod addresses, pods still cross both ways (ping, 1 MiB over TCP), carried in VXLAN on UDP 8472',
    hint: 'A vxlan0 on each node (id 1, dstport 8472, local the underlay address, dev eth0), an fdb entry per other node, and routes to the other pod CIDRs via their tunnel addresses dev vxlan0.',
    run: async (ctx) => {
      const c = await ctx.ready()
      const before = c.cluster.underlay.counts()
      const wrong = await strictly(c, () => crossNode(c))
      const after = c.cluster.underlay.counts()
      const vxlan = after.vxlan - before.vxlan
      const dropped = after.dropped - before.dropped
      if (wrong.length)
        fail(
          `with the underlay strict, ${wrong.join('; ')}. Meanwhile the underlay dropped ${dropped} packet(s) addressed to pods and carried ${vxlan} VXLAN packet(s)${vxlan === 0n ? ': nothing went through a tunnel' : ''}`,
        )
      if (vxlan === 0n)
        fail(
          `traffic crossed, but the underlay counted no VXLAN packet (UDP 8472): is another tunnel on another port carrying it?`,
          'dstport 8472 on vxlan0',
        )
      return `both ways with the underlay strict: ${vxlan} VXLAN packets on the underlay, ${dropped} pod-addressed packets dropped there`
    },
  },
  {
    id: 'nodes.mtu',
    title: "each pod's eth0 has MTU 1450, and a 1400-byte ping with Don't Fragment crosses both ways",
    hint: '"mtu": 1450 in 10-ebpfcni.conf: the plugin puts the config\'s mtu on both veth ends (VXLAN takes 50 of the underlay\'s 1500 bytes).',
    run: async (ctx) => {
      const c = await ctx.ready()
      const wrong: string[] = []
      for (const p of [c.podA, c.podB]) {
        const l = await link(p.ifname, p.netnsName)
        if (l?.mtu !== 1450)
          wrong.push(
            `the pod on node ${p.node}: eth0 has MTU ${l?.mtu ?? '?'}, expected 1450 (1500 minus VXLAN's 50 bytes)`,
          )
      }
      const sized = await strictly(c, async () => [
        await pingSized(c.podA.netnsPath, c.podB.ip, 1400),
        await pingSized(c.podB.netnsPath, c.podA.ip, 1400),
      ])
      sized.forEach((r, i) => {
        if (!r.ok)
          wrong.push(`${i === 0 ? `node ${c.a.name} → ${c.b.name}` : `node ${c.b.name} → ${c.a.name}`}: ${r.detail}`)
      })
      if (wrong.length) fail(wrong.join('; '))
      return "both pods at MTU 1450; 1400-byte payloads with Don't Fragment cross both ways through the tunnel"
    },
  },
]
