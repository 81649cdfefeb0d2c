import {describe, it, expect} from 'vitest'
import {otherPin} from '../checks/attach.js'

// Walked: the plugin's default pin path misspelled, the config naming no xdpPin. The lab test's configs
// always name one (each test its own pin dir), so the walked case is this pure classification's.
describe('cni.add.attaches-xdp: an ADD error naming a pin that is not where the program is pinned', () => {
  const DEFAULT = '/sys/fs/bpf/ebpfcni/xdp_prog'
  const said = (p: string) => `error 5: no XDP program pinned at ${p} (build and load it: ebpfcni bpf load --replace)`

  it("with no xdpPin in the config, names the plugin's default as the cause", () => {
    const r = otherPin(said('/sys/fs/bpf/ebpfcni/xdp_prg'), DEFAULT, false)
    expect(r?.message).toMatch(
      /looked for the program at \/sys\/fs\/bpf\/ebpfcni\/xdp_prg, not at \/sys\/fs\/bpf\/ebpfcni\/xdp_prog.*own default decides/,
    )
    expect(r?.hint).toMatch(
      /default pin path is \/sys\/fs\/bpf\/ebpfcni\/xdp_prg: make it \/sys\/fs\/bpf\/ebpfcni\/xdp_prog/,
    )
  })

  it("with xdpPin in the config, names the config's xdpPin not read", () => {
    const r = otherPin(said('/sys/fs/bpf/ebpfcni/xdp_prg'), '/sys/fs/bpf/mine/xdp_prog', true)
    expect(r?.message).toMatch(/your config's xdpPin/)
    expect(r?.hint).toMatch(/Read the config's xdpPin/)
  })

  it('says nothing when the error names the pin itself, or no pin at all', () => {
    expect(otherPin(said(DEFAULT), DEFAULT, false)).toBeUndefined()
    expect(otherPin('error 11: no free address left in 10.10.0.0/24', DEFAULT, false)).toBeUndefined()
    expect(otherPin(`cannot attach ${DEFAULT} to veth1 (Cannot find device "eth0")`, DEFAULT, false)).toBeUndefined()
  })
})
