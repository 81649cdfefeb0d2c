import {createHash} from 'node:crypto'

// Step 4's Maglev lookup table, as the paper builds it (Eisenbud et al., "Maglev: A Fast and
// Reliable Software Network Load Balancer", NSDI 2016, §3.4, Pseudocode 1), and the flow hash
// maglev.bpf.c uses, in TypeScript, for the side-by-side figure of hash % N.

/** The table's size: a prime (every skip is then coprime to it, so each backend's preference list is a permutation). */
export const MAGLEV_M = 1021

export const isPrime = (n: number): boolean => {
  if (n < 2 || !Number.isInteger(n)) return false
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false
  return true
}

/** h1 and h2 of a backend's name: two 32-bit words of its SHA-256 (two independent hashes). */
function hashes(name: string): [number, number] {
  const d = createHash('sha256').update(name).digest()
  return [d.readUInt32BE(0), d.readUInt32BE(4)]
}

/** offset = h1(name) mod M, skip = h2(name) mod (M − 1) + 1; permutation[j] = (offset + j × skip) mod M. */
export function preference(name: string, m = MAGLEV_M): {offset: number; skip: number} {
  const [h1, h2] = hashes(name)
  return {offset: h1 % m, skip: (h2 % (m - 1)) + 1}
}

/** The lookup table of the backends named: each backend's preference from its name (see populate). */
export function maglevTable(names: string[], m = MAGLEV_M): Int32Array {
  if (new Set(names).size !== names.length) throw new Error('each backend needs a name of its own')
  return populate(
    names.map((name) => preference(name, m)),
    m,
  )
}

/**
 * Pseudocode 1: entry[j] is the index of the backend that owns table position j. The backends
 * take turns, each filling its most preferred position still empty, until all M are filled: each
 * ends up with ⌊M/N⌋ or ⌈M/N⌉ entries.
 */
export function populate(prefs: Array<{offset: number; skip: number}>, m: number): Int32Array {
  if (!isPrime(m)) throw new Error(`the Maglev table size must be a prime, not ${m}`)
  const entry = new Int32Array(m).fill(-1)
  const n = prefs.length
  if (n === 0) return entry
  const permutation = (i: number, j: number): number => (prefs[i].offset + j * prefs[i].skip) % m
  const next = new Array<number>(n).fill(0)
  let filled = 0
  for (;;) {
    for (let i = 0; i < n; i++) {
      let c = permutation(i, next[i])
      while (entry[c] >= 0) {
        next[i]++
        c = permutation(i, next[i])
      }
      entry[c] = i
      next[i]++
      filled++
      if (filled === m) return entry
    }
  }
}

/** The table as maglev.bpf.c's map value holds it: M little-endian u32 slots. */
export function tableValue(entry: Int32Array): Buffer {
  const b = Buffer.alloc(4 * entry.length)
  entry.forEach((v, j) => b.writeUInt32LE(v, 4 * j))
  return b
}

/** murmur3's 32-bit finaliser, as maglev.bpf.c's mix32. */
export const mix32 = (x: number): number => {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/**
 * maglev.bpf.c's flow_hash: saddr and daddr as the program loads them (the packet's four bytes
 * read as a little-endian u32 on x86), ports = the source port's two bytes then the destination's,
 * read likewise.
 */
export const flowHash = (saddr: number, daddr: number, ports: number): number =>
  mix32((saddr ^ mix32((daddr ^ mix32(ports)) >>> 0)) >>> 0)
