import {describe, it, expect} from 'vitest'
import {ipv4IcmpEcho} from '../../src/bpf/frames.js'

// Crafted frames a test run feeds a program: the kernel's own checksum rule holds for each header.

/** The ones' complement sum of 16-bit words: 0xffff over a header whose checksum is right. */
function onesSum(b: Buffer): number {
  let sum = 0
  for (let i = 0; i < b.length; i += 2) sum += b.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}

describe('ipv4IcmpEcho', () => {
  it('is an IPv4 ICMP echo request between the two addresses, both checksums right', () => {
    const f = ipv4IcmpEcho('10.243.1.2', '10.243.1.3')
    expect(f.readUInt16BE(12)).toBe(0x0800)
    const ip = f.subarray(14)
    expect(ip.length).toBe(28)
    expect(ip.readUInt16BE(2)).toBe(28)
    expect(ip[9]).toBe(1)
    expect([...ip.subarray(12, 16)]).toEqual([10, 243, 1, 2])
    expect([...ip.subarray(16, 20)]).toEqual([10, 243, 1, 3])
    expect(onesSum(ip.subarray(0, 20))).toBe(0xffff)
    const icmp = ip.subarray(20)
    expect([icmp[0], icmp[1]]).toEqual([8, 0])
    expect(onesSum(icmp)).toBe(0xffff)
  })
})
