import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {closeFd} from '../bpf/ffi.js'
import {objGet, progInfo} from '../bpf/object.js'
import {tcAttach, tcQueryId, xdpAttach, xdpQueryId, XDP_FLAGS} from '../bpf/attach.js'
import {addrs, hostPeer} from '../net/ip.js'
import {inSubnet} from '../net/ipv4.js'
import {UserError} from '../host/errors.js'
import type {NodeAddressesOf, PolicyPod} from './resolve.js'

// The agent's half of lab 4, as a CNI agent regenerates its endpoints: every pod it knows gets
// to_pod on its host veth's egress (what goes to the pod) and, if its veth has none yet, the
// XDP program (what it sends); the endpoints map learns which address each veth may send from.
// Pods made before the program was loaded are covered this way too. The attachments live on
// the pod's veth and go with it, as the plugin's XDP attachment does: no ledger entry.

/** The programs lab 4's object pins, by their names in the C file. */
export const TO_POD_PROGRAM = 'to_pod'
export const FROM_POD_PROGRAM = 'xdp_prog'

export interface Endpoint {
  pod: string
  ip: string
  ifindex: number
  dev: string
}

/** A host interface by name, if it still has this index (a deleted pod's veth is gone, or reused). */
function stillThere(dev: string, ifindex: number): boolean {
  try {
    return Number(readFileSync(`/sys/class/net/${dev}/ifindex`, 'utf8')) === ifindex
  } catch {
    return false
  }
}

export class EndpointAgent {
  /** netns path + address -> the host veth, so a sync does not enter every pod's netns again. */
  private readonly known = new Map<string, {ifindex: number; dev: string}>()

  /** The host veth of each pod that has a netns (pods without one are addresses only: never attached). */
  async endpoints(pods: PolicyPod[]): Promise<Endpoint[]> {
    const out: Endpoint[] = []
    for (const p of pods) {
      if (!p.netnsPath) continue
      const key = `${p.netnsPath}|${p.ip}`
      let peer = this.known.get(key)
      if (!peer || !stillThere(peer.dev, peer.ifindex)) {
        const l = existsSync(p.netnsPath) ? await hostPeer(p.netnsPath, 'eth0') : undefined
        if (!l) {
          this.known.delete(key)
          continue
        }
        peer = {ifindex: l.ifindex, dev: l.ifname}
        this.known.set(key, peer)
      }
      out.push({pod: p.name, ip: p.ip, ...peer})
    }
    return out
  }

  /**
   * Attach to_pod (replacing what is there: a reload takes effect on every pod) and, where a
   * veth has no XDP program, xdp_prog. Nothing to do before the object has a to_pod (step 1).
   * `changed`: the pods whose veth ran another to_pod, or none, before (what `policy apply` says).
   */
  attach(pinDir: string, endpoints: Endpoint[]): {attached: number; changed: string[]} {
    const toPod = join(pinDir, TO_POD_PROGRAM)
    if (!existsSync(toPod) || !endpoints.length) return {attached: 0, changed: []}
    const fromPod = join(pinDir, FROM_POD_PROGRAM)
    const tcFd = objGet(toPod)
    const xdpFd = existsSync(fromPod) ? objGet(fromPod) : undefined
    const changed: string[] = []
    try {
      const pinnedId = progInfo(tcFd).id
      for (const e of endpoints) {
        try {
          if (tcQueryId(e.ifindex, 'egress') !== pinnedId) changed.push(e.pod)
          tcAttach(e.ifindex, 'egress', tcFd, {replace: true})
          if (xdpFd !== undefined && xdpQueryId(e.ifindex, 0) === 0) xdpAttach(e.ifindex, xdpFd, XDP_FLAGS.SKB_MODE)
        } catch (err) {
          // The pod went away between listing and attaching: nothing to protect.
          if (stillThere(e.dev, e.ifindex))
            throw new UserError(`cannot attach ${TO_POD_PROGRAM} to ${e.dev} (pod ${e.pod}): ${(err as Error).message}`)
        }
      }
      return {attached: endpoints.length, changed}
    } finally {
      closeFd(tcFd)
      if (xdpFd !== undefined) closeFd(xdpFd)
    }
  }
}

/** The node's IPv4 addresses, as a lookup of those on a pod's subnet (the source of the node's traffic to it). */
export async function nodeAddresses(): Promise<NodeAddressesOf> {
  const mine = (await addrs()).flatMap((l) =>
    l.addr_info.filter((a) => a.family === 'inet' && !a.local.startsWith('127.')),
  )
  return (podIp) => mine.filter((a) => inSubnet(podIp, a.local, a.prefixlen)).map((a) => a.local)
}
