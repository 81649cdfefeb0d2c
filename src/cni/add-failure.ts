import {link, type IpLink} from '../net/ip.js'
import type {Attachment, NetworkOutcome} from './network.js'

// Why an ADD failed, from what the failure left: the plugin's error JSON and stderr, the links in
// the namespace the plugin ran in, and the pod's. A lab's check and `pod add` name the same cause.
// Only a cause the evidence shows is named; anything else stays unnamed (the plugin's own output
// is then the best pointer), never a guess.

/** What a failed ADD left, read before any cleanup (DEL, netns removal) undoes it. */
export interface FailedAddScene {
  /** The failing plugin's own words: its error JSON's msg and details. */
  said: string
  /** The failing plugin's stderr. */
  stderr: string
  ifname: string
  /** The bridge the failing plugin's config names (its "bridge" key), when known. */
  bridge?: string
  /** CNI_IFNAME inside the pod's netns, if it is there. */
  inPod?: IpLink
  /** A link named CNI_IFNAME where the plugin ran (the host, or a lab 5 node's netns). */
  onHost?: IpLink
  /** Whether that namespace had CNI_IFNAME before the ADD (a host in a container has a veth eth0), when known. */
  onHostBefore?: boolean
}

export type AddFailureCause =
  /** `ip link add BRIDGE type bridge` on every ADD: the bridge, shared by every pod, was there. */
  | {kind: 'bridge-made-again'; bridge?: string}
  /** `ip addr add GATEWAY dev BRIDGE` on every ADD: the bridge's address, shared too, was there. */
  | {kind: 'bridge-address-added-again'; bridge?: string}
  /** The veth's pod end was made in the plugin's own namespace, not the pod's (no `netns` on the peer). */
  | {kind: 'pod-end-on-host'; ifname: string; clash: boolean}
  /** `ip route add default via GATEWAY` before the pod's address: the gateway is on no subnet of the pod. */
  | {kind: 'route-before-address'; ifname: string}

/** Read what a failed ADD left. `bridge` overrides the config's key (a plugin's own default). */
export async function failedAddScene(
  outcome: NetworkOutcome,
  att: Attachment,
  opts: {bridge?: string; hostNetns?: string; onHostBefore?: boolean} = {},
): Promise<FailedAddScene> {
  const call = outcome.calls.at(-1)
  const configBridge = call?.request.stdin.bridge
  const [inPod, onHost] = await Promise.all([
    att.netns ? link(att.ifname, att.netns).catch(() => undefined) : undefined,
    link(att.ifname, opts.hostNetns).catch(() => undefined),
  ])
  return {
    said: [call?.error?.msg, call?.error?.details].filter(Boolean).join(' '),
    stderr: call?.run?.stderr ?? '',
    ifname: att.ifname,
    bridge: opts.bridge ?? (typeof configBridge === 'string' && configBridge ? configBridge : undefined),
    inPod,
    onHost,
    onHostBefore: opts.onHostBefore,
  }
}

/** The cause the scene shows, or undefined when it shows none for certain. */
export function addFailureCause(scene: FailedAddScene): AddFailureCause | undefined {
  const lastLines = scene.stderr.trim().split('\n').slice(-3).join('\n')
  const exists = /File exists/i.test(`${scene.said}\n${lastLines}`)
  // The plugin said it was making the bridge when ip answered "File exists".
  const namesBridge =
    /\bbridge\b/i.test(scene.said) ||
    (scene.bridge !== undefined && `${scene.said}\n${lastLines}`.includes(scene.bridge))
  // ip says "File exists" for an address already there too: the plugin's words tell which it made.
  if (exists && namesBridge)
    return /\b(addr|address|gateway)\b/i.test(`${scene.said}\n${lastLines}`)
      ? {kind: 'bridge-address-added-again', bridge: scene.bridge}
      : {kind: 'bridge-made-again', bridge: scene.bridge}
  // ip's own words for a gateway outside every subnet of the interface: in a pod, its address is not
  // on CNI_IFNAME yet. Read first: the links left behind (a veth named eth0 on a host in a container)
  // say nothing about it.
  if (/Nexthop has invalid gateway/i.test(`${scene.said}\n${lastLines}`))
    return {kind: 'route-before-address', ifname: scene.ifname}
  // CNI_IFNAME is not in the pod but in the plugin's namespace: made there, or refused there because
  // that namespace has one already (the host's own eth0).
  // A veth there before the ADD is the host's own, not the pod end: only "File exists" blames it then.
  if (
    !scene.inPod &&
    scene.onHost &&
    (exists || (scene.onHost.linkinfo?.info_kind === 'veth' && scene.onHostBefore !== true))
  )
    return {kind: 'pod-end-on-host', ifname: scene.ifname, clash: exists}
  return undefined
}

/** The hint for a cause: what happened, and the command that avoids it. */
export function addFailureHint(cause: AddFailureCause): string {
  switch (cause.kind) {
    case 'bridge-made-again':
      return `ip refused to make ${cause.bridge ? `bridge ${cause.bridge}` : 'the bridge'} again ("File exists"): the bridge is shared by every pod, so create it only when it is missing (ip link show dev "$bridge" >/dev/null 2>&1 || ip link add "$bridge" type bridge), and set its address with ip addr replace`
    case 'bridge-address-added-again':
      return `ip refused to put the gateway's address on ${cause.bridge ? `bridge ${cause.bridge}` : 'the bridge'} again ("File exists"): the bridge and its address are shared by every pod, so set it with ip addr replace, which succeeds when the address is already there`
    case 'pod-end-on-host':
      return cause.clash
        ? `the pod end of the veth, named ${cause.ifname}, was made in the host's namespace, where ${cause.ifname} already exists ("File exists"): create it straight in the pod: ip link add "$hostveth" type veth peer name "$CNI_IFNAME" netns "$CNI_NETNS"`
        : `the pod end of the veth, ${cause.ifname}, is on the host, not in the pod: create it straight in the pod: ip link add "$hostveth" type veth peer name "$CNI_IFNAME" netns "$CNI_NETNS"`
    case 'route-before-address':
      return `ip refused the default route ("Nexthop has invalid gateway"): a gateway is reachable only from an address in its subnet, so the pod's address must be on ${cause.ifname} first: ip addr add "$addr/$prefix" dev "$CNI_IFNAME", then ip route add default via "$gateway" dev "$CNI_IFNAME"`
  }
}

/** The scene, its cause and that cause's hint, in one call: undefined when no cause is shown. */
export async function failedAddHint(
  outcome: NetworkOutcome,
  att: Attachment,
  opts: {bridge?: string; hostNetns?: string; onHostBefore?: boolean} = {},
): Promise<string | undefined> {
  const cause = addFailureCause(await failedAddScene(outcome, att, opts))
  return cause && addFailureHint(cause)
}
