// IPv4 addresses and CIDR prefixes as numbers: the one place that does this arithmetic.

/** "10.1.2.3" -> 167838211 (an unsigned 32-bit number; no bit operators, which are signed). */
export const ip2int = (ip: string): number => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0)

export const int2ip = (n: number): string => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.')

export interface CidrInfo {
  /** The network and broadcast addresses, as numbers. */
  net: number
  bcast: number
  prefix: number
  /** The first usable address: the gateway by the labs' convention. */
  gateway: string
}

/** "10.10.0.7/29" -> its network, broadcast, prefix and first address. */
export function cidrInfo(cidr: string): CidrInfo {
  const [ip, p] = cidr.split('/')
  const prefix = Number(p)
  const size = 2 ** (32 - prefix)
  const net = Math.floor(ip2int(ip) / size) * size
  return {net, bcast: net + size - 1, prefix, gateway: int2ip(net + 1)}
}

/** Whether an address is inside ADDRESS/PREFIX. */
export function inSubnet(ip: string, address: string, prefix: number): boolean {
  const c = cidrInfo(`${address}/${prefix}`)
  const n = ip2int(ip)
  return n >= c.net && n <= c.bcast
}
