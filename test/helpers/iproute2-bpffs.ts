import {lstatSync, readdirSync, rmdirSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'

// The first time iproute2 loads an object file (`ip link set … xdp obj FILE`, `tc filter … bpf obj
// FILE`), it makes its own folders in bpffs: tc/ and tc/globals/, with ip and xdp linked to tc/. It
// never removes them. A test that loads objects that way notes which were missing and removes those.

const BPFFS = '/sys/fs/bpf'
/** Children before parents: the order they are removed in. */
export const IPROUTE2_BPFFS = ['ip', 'xdp', 'tc/globals', 'tc'] as const

const present = (name: string): boolean => {
  try {
    lstatSync(join(BPFFS, name))
    return true
  } catch {
    return false
  }
}

/**
 * Call before iproute2 loads an object; call the result after the programs are gone. It removes the
 * folders (and links) this test made, never ones that were there before, and fails naming anything
 * left pinned in them (rmdir, not rm -r: a pin in tc/globals belongs to someone).
 */
export function iproute2BpffsMadeHere(): () => void {
  const missing = IPROUTE2_BPFFS.filter((name) => !present(name))
  return () => {
    const kept: string[] = []
    for (const name of missing) {
      const path = join(BPFFS, name)
      if (!present(name)) continue
      if (lstatSync(path).isSymbolicLink()) {
        unlinkSync(path)
        continue
      }
      try {
        rmdirSync(path)
      } catch {
        kept.push(`${path} (holds ${readdirSync(path).join(', ')})`)
      }
    }
    if (kept.length > 0)
      throw new Error(`iproute2's bpffs folders this test made are not empty, left in place: ${kept.join('; ')}`)
  }
}
