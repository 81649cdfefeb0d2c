import {closeSync, openSync} from 'node:fs'
import {ffi} from './ffi.js'

// A BPF call that names a device by ifindex (a tcx or netkit link, a prog query) finds it in the
// network namespace of the calling thread (kernel/bpf/tcx.c: current->nsproxy->net_ns). A node's
// devices live in the node's namespace: setns(2) moves only the calling thread, so the main thread
// enters it for one synchronous call and comes back before anything else runs on it.

const CLONE_NEWNET = 0x40000000
let setns: ((fd: number, nstype: number) => number) | undefined

/** Run `fn` (synchronous: no await inside) in the network namespace at netnsPath; back after. */
export function inNetns<T>(netnsPath: string, fn: () => T): T {
  setns ??= ffi().koffi.load('libc.so.6').func('int setns(int, int)') as (fd: number, nstype: number) => number
  const home = openSync('/proc/thread-self/ns/net', 'r')
  try {
    const target = openSync(netnsPath, 'r')
    try {
      if (setns(target, CLONE_NEWNET) !== 0) throw new Error(`cannot enter the network namespace ${netnsPath}`)
    } finally {
      closeSync(target)
    }
    let result: T
    let back = false
    try {
      result = fn()
    } finally {
      back = setns(home, CLONE_NEWNET) === 0
    }
    // Staying in the node's namespace would make every later call on this thread wrong: stop.
    if (!back) throw new Error('cannot return to the original network namespace')
    return result
  } finally {
    closeSync(home)
  }
}
