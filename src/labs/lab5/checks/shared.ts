import type {CheckCluster} from '../context.js'
import {download, ping} from '../../../net/probes.js'

export const MIB = 1024 * 1024

const directions = (c: CheckCluster) =>
  [
    [c.podA, c.podB, c.a.name, c.b.name],
    [c.podB, c.podA, c.b.name, c.a.name],
  ] as const

/** Ping both ways between the two pods (both directions at once); what failed, in words. */
export async function pingBoth(c: CheckCluster): Promise<string[]> {
  const r = await Promise.all(
    directions(c).map(async ([from, to, fromNode, toNode]) =>
      (await ping(from.netnsPath, to.ip, 1, 3)).ok
        ? []
        : [`ping from the pod on node ${fromNode} (${from.ip}) to the pod on node ${toNode} (${to.ip}) got no reply`],
    ),
  )
  return r.flat()
}

/** 1 MiB over TCP both ways (each pod downloads from the other's httpbin); what failed, in words. */
export async function transferBoth(c: CheckCluster): Promise<string[]> {
  const r = await Promise.all(
    directions(c).map(async ([from, to, fromNode, toNode]) => {
      const d = await download(from.netnsPath, `http://${to.ip}/bytes/${MIB}`, 15)
      if (d.bytes === MIB) return []
      const seen = d.ok
        ? `${d.bytes} bytes arrived`
        : /did not finish within/.test(d.detail)
          ? 'it did not complete within 15 s'
          : (/wget: (.*)/.exec(d.detail)?.[1] ?? d.detail)
      return [`1 MiB over TCP from node ${toNode}'s pod to node ${fromNode}'s: ${seen}`]
    }),
  )
  return r.flat()
}

/** Both: ping, then (only when ping got through: a dropped transfer takes its whole timeout) the transfer. */
export async function crossNode(c: CheckCluster): Promise<string[]> {
  const pings = await pingBoth(c)
  return pings.length ? pings : transferBoth(c)
}
