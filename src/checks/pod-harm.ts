import {addrs, link, routes} from '../net/ip.js'
import {ping} from '../net/probes.js'
import type {CheckPod} from './check-pods.js'

// Whether a call the plugin refused (or failed) left the pod it was about as it was: a refusal
// that damages the pod it refused is no refusal.

/** What a pod's network looks like from inside: compared before and after a call that must not touch it. */
export interface PodNetState {
  mac?: string
  up: boolean
  addresses: string[]
  routes: string[]
}

export async function podNetState(pod: CheckPod): Promise<PodNetState> {
  const l = await link(pod.att.ifname, pod.netnsName)
  const a = (await addrs(pod.netnsName, pod.att.ifname).catch(() => []))[0]?.addr_info ?? []
  const r = await routes(pod.netnsName).catch(() => [])
  return {
    mac: l?.address,
    up: Boolean(l?.flags.includes('UP')),
    addresses: a
      .filter((x) => x.family === 'inet')
      .map((x) => `${x.local}/${x.prefixlen}`)
      .sort(),
    routes: r.map((x) => `${x.dst}${x.gateway ? ` via ${x.gateway}` : ''} dev ${x.dev ?? '?'}`).sort(),
  }
}

/**
 * The differences between a pod's state before and after a refused or failed call, and whether it
 * still reaches `peer`: a refusal that damages the pod it refused is no refusal. Empty when unharmed.
 */
export async function harmDone(pod: CheckPod, before: PodNetState, peer?: string): Promise<string[]> {
  const after = await podNetState(pod)
  const seen: string[] = []
  const name = `${pod.att.ifname} of pod "${pod.name}"`
  if (after.mac !== before.mac)
    seen.push(after.mac ? `${name}'s MAC changed from ${before.mac} to ${after.mac}` : `${name} is gone`)
  if (before.up && !after.up && after.mac) seen.push(`${name} went down`)
  const diff = (what: string, b: string[], a: string[]) => {
    const lost = b.filter((x) => !a.includes(x))
    const added = a.filter((x) => !b.includes(x))
    if (lost.length) seen.push(`${name} lost ${what} ${lost.join(', ')}`)
    if (added.length) seen.push(`${name} gained ${what} ${added.join(', ')}`)
  }
  diff('address', before.addresses, after.addresses)
  diff('route', before.routes, after.routes)
  if (peer && !seen.length) {
    const p = await ping(pod.netnsPath, peer, 1, 2)
    if (!p.ok) seen.push(`pod "${pod.name}" no longer reaches ${peer}`)
  }
  return seen
}
