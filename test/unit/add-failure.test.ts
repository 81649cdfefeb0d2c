import {describe, it, expect} from 'vitest'
import {addFailureCause, addFailureHint, type FailedAddScene} from '../../src/cni/add-failure.js'
import type {IpLink} from '../../src/net/ip.js'

// A failed ADD's cause is named only from what the failure left; anything else stays unnamed.

const linkOf = (ifname: string, kind?: string): IpLink => ({
  ifindex: 2,
  ifname,
  flags: ['BROADCAST'],
  mtu: 1500,
  operstate: 'DOWN',
  ...(kind ? {linkinfo: {info_kind: kind}} : {}),
})
const scene = (s: Partial<FailedAddScene>): FailedAddScene => ({said: '', stderr: '', ifname: 'eth0', ...s})

describe('the cause of a failed ADD', () => {
  it('the bridge made again: "File exists" while the plugin said it made the bridge', () => {
    const cause = addFailureCause(
      scene({said: 'cannot create bridge br7', stderr: 'RTNETLINK answers: File exists\n', bridge: 'br7'}),
    )
    expect(cause).toEqual({kind: 'bridge-made-again', bridge: 'br7'})
    expect(addFailureHint(cause!)).toMatch(/bridge br7 again .*create it only when it is missing/)
    // The bridge's name on stderr is enough; the word "bridge" in the plugin's words too (no name known).
    expect(addFailureCause(scene({stderr: 'ip link add br7: File exists', bridge: 'br7'}))?.kind).toBe(
      'bridge-made-again',
    )
    expect(addFailureHint(addFailureCause(scene({said: 'making the bridge: File exists'}))!)).toMatch(
      /make the bridge again/,
    )
  })

  it("the bridge's address added again: the plugin said it was putting the gateway on the bridge", () => {
    const cause = addFailureCause(
      scene({said: 'cannot put the gateway 10.1.0.1 on br7', stderr: 'RTNETLINK answers: File exists', bridge: 'br7'}),
    )
    expect(cause).toEqual({kind: 'bridge-address-added-again', bridge: 'br7'})
    expect(addFailureHint(cause!)).toMatch(/gateway's address on bridge br7 again .*ip addr replace/)
    // A plugin traced with set -x: the failing command is on stderr, the plugin said nothing.
    const traced = 'RTNETLINK answers: File exists'
    expect(addFailureCause(scene({stderr: `+ ip addr add 10.1.0.1/24 dev br7\n${traced}`, bridge: 'br7'}))?.kind).toBe(
      'bridge-address-added-again',
    )
    expect(addFailureCause(scene({stderr: `+ ip link add br7 type bridge\n${traced}`, bridge: 'br7'}))?.kind).toBe(
      'bridge-made-again',
    )
  })

  it('the pod end made on the host: CNI_IFNAME not in the pod but where the plugin ran', () => {
    const clash = addFailureCause(
      scene({said: 'cannot create the veth pair', stderr: 'RTNETLINK answers: File exists', onHost: linkOf('eth0')}),
    )
    expect(clash).toEqual({kind: 'pod-end-on-host', ifname: 'eth0', clash: true})
    expect(addFailureHint(clash!)).toMatch(
      /made in the host's namespace, where eth0 already exists.*netns "\$CNI_NETNS"/,
    )
    const made = addFailureCause(scene({stderr: 'Cannot find device "eth0"', onHost: linkOf('eth0', 'veth')}))
    expect(addFailureHint(made!)).toMatch(/is on the host, not in the pod/)
  })

  it("the default route before the pod's address: ip's words, whatever links a host in a container has", () => {
    // Walked: the pod end was made with netns, and cleaned up by the plugin; the host's own eth0 is a veth.
    const cause = addFailureCause(
      scene({
        said: 'cannot add default route',
        stderr: 'Error: Nexthop has invalid gateway.',
        onHost: linkOf('eth0', 'veth'),
      }),
    )
    expect(cause).toEqual({kind: 'route-before-address', ifname: 'eth0'})
    expect(addFailureHint(cause!)).toMatch(
      /must be on eth0 first: ip addr add "\$addr\/\$prefix".*then ip route add default/,
    )
  })

  it('names nothing it cannot show', () => {
    // "File exists" with no word of the bridge, and eth0 in the pod: which link clashed is unknown.
    expect(
      addFailureCause(scene({stderr: 'RTNETLINK answers: File exists', inPod: linkOf('eth0'), onHost: linkOf('eth0')})),
    ).toBeUndefined()
    // A veth eth0 the host had before the ADD (a host in a container), with no "File exists": the host's own.
    expect(
      addFailureCause(scene({said: 'refusing on purpose', onHost: linkOf('eth0', 'veth'), onHostBefore: true})),
    ).toBeUndefined()
    // A host eth0 that is no veth, with no "File exists": the pod end may be anywhere.
    expect(addFailureCause(scene({stderr: 'Cannot find device "eth0"', onHost: linkOf('eth0')}))).toBeUndefined()
    // The bridge named, but ip did not say "File exists".
    expect(
      addFailureCause(scene({said: 'cannot create bridge br7', stderr: 'Operation not permitted'})),
    ).toBeUndefined()
    // "File exists" early on stderr, not among its last lines (what the failing command said).
    expect(
      addFailureCause(scene({said: 'bridge', stderr: 'File exists\nok\nok\nlater: Invalid argument', bridge: 'br7'})),
    ).toBeUndefined()
  })
})
