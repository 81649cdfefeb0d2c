import {ipv4Key} from './counters.js'

// Crafted Ethernet frames for BPF_PROG_TEST_RUN: feedback on a program with no pod in sight.

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a]
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b]

function ethernet(ethertype: number, payload: Buffer): Buffer {
  const f = Buffer.alloc(14 + payload.length)
  Buffer.from(MAC_B).copy(f, 0)
  Buffer.from(MAC_A).copy(f, 6)
  f.writeUInt16BE(ethertype, 12)
  payload.copy(f, 14)
  return f
}

/** The IPv4 header checksum (over the 20-byte header, its checksum field taken as zero). */
function setIpv4Checksum(ip: Buffer): void {
  ip.writeUInt16BE(0, 10)
  let sum = 0
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  ip.writeUInt16BE(~sum & 0xffff, 10)
}

/** An IPv4/UDP datagram between two addresses, with a correct header checksum. */
export function ipv4Udp(src: string, dst: string, payload = 'ebpfcni', dport = 9, sport = 40000): Buffer {
  const data = Buffer.from(payload)
  const ip = Buffer.alloc(20 + 8 + data.length)
  ip[0] = 0x45
  ip.writeUInt16BE(ip.length, 2)
  ip[8] = 64
  ip[9] = 17 // UDP
  ipv4Key(src).copy(ip, 12)
  ipv4Key(dst).copy(ip, 16)
  setIpv4Checksum(ip)
  ip.writeUInt16BE(sport, 20)
  ip.writeUInt16BE(dport, 22)
  ip.writeUInt16BE(8 + data.length, 24)
  data.copy(ip, 28)
  return ethernet(0x0800, ip)
}

/** An IPv4/TCP segment (a 20-byte header, SYN, or ACK for a reply; checksums not needed by XDP or TC). */
export function ipv4Tcp(
  src: string,
  dst: string,
  dport: number,
  sport = 40000,
  flags: 'syn' | 'ack' | 'syn-ack' = 'syn',
): Buffer {
  const udp = ipv4Udp(src, dst, '')
  const ip = Buffer.alloc(20 + 20)
  udp.copy(ip, 0, 14, 14 + 20)
  ip.writeUInt16BE(40, 2)
  ip[9] = 6 // TCP
  setIpv4Checksum(ip)
  ip.writeUInt16BE(sport, 20)
  ip.writeUInt16BE(dport, 22)
  ip[32] = 0x50 // data offset: 5 words
  ip[33] = {syn: 0x02, ack: 0x10, 'syn-ack': 0x12}[flags]
  return ethernet(0x0800, ip)
}

/** An ICMP echo request (type 8, code 0, id and sequence 1, no payload), as ping sends. */
export function ipv4IcmpEcho(src: string, dst: string): Buffer {
  const f = ipv4Udp(src, dst, '')
  const ip = f.subarray(14)
  ip[9] = 1 // ICMP
  setIpv4Checksum(ip)
  ip.fill(0, 20, 28)
  ip[20] = 8 // echo request
  ip.writeUInt16BE(1, 24)
  ip.writeUInt16BE(1, 26)
  ip.writeUInt16BE(0xffff - (0x0800 + 1 + 1), 22) // the ICMP checksum over its 8 bytes
  return f
}

export const arp = (): Buffer => ethernet(0x0806, Buffer.alloc(28, 1))
export const ipv6 = (): Buffer => ethernet(0x86dd, Buffer.alloc(40, 0))

/** An IPv6/UDP datagram between link-local addresses (fe80::a -> fe80::b), as any pod can send. */
export function ipv6Udp(dport: number): Buffer {
  const ip = Buffer.alloc(40 + 8)
  ip[0] = 0x60
  ip.writeUInt16BE(8, 4) // payload length
  ip[6] = 17 // next header: UDP
  ip[7] = 64
  Buffer.from('fe80000000000000000000000000000a', 'hex').copy(ip, 8)
  Buffer.from('fe80000000000000000000000000000b', 'hex').copy(ip, 24)
  ip.writeUInt16BE(40000, 40)
  ip.writeUInt16BE(dport, 42)
  ip.writeUInt16BE(8, 44)
  return ethernet(0x86dd, ip)
}
/** Just an Ethernet header that announces IPv4: a frame too short for its IP header. */
export const ethernetOnly = (): Buffer => ethernet(0x0800, Buffer.alloc(0))
/** An IPv4 header cut off after 10 of its 20 bytes. */
export const truncatedIpv4 = (): Buffer => ipv4Udp('10.10.0.2', '10.10.0.3').subarray(0, 14 + 10)

/**
 * A later fragment of a UDP datagram (fragment offset 8 bytes, no UDP header): its first payload
 * bytes sit where a first fragment's ports would be, and here they spell destination port `looksLike`.
 */
export function ipv4LaterFragment(
  src: string,
  dst: string,
  looksLike: number,
  protocol: 'tcp' | 'udp' = 'tcp',
): Buffer {
  const f = ipv4Udp(src, dst, 'xxxx', looksLike)
  const ip = f.subarray(14)
  ip[9] = protocol === 'tcp' ? 6 : 17
  ip.writeUInt16BE(1, 6) // flags 0, fragment offset 1 (x 8 bytes): not the first fragment
  setIpv4Checksum(ip)
  return f
}

/** The same frame announcing another ethertype (bytes 12-13, as on the wire). */
export function withEthertype(frame: Buffer, ethertype: number): Buffer {
  const f = Buffer.from(frame)
  f.writeUInt16BE(ethertype, 12)
  return f
}

/** A frame whose IPv4 header's IHL says 4 words (16 bytes), less than the fixed 20: malformed. */
export function withShortIhl(frame: Buffer): Buffer {
  const f = Buffer.from(frame)
  f[14] = 0x44
  return f
}
