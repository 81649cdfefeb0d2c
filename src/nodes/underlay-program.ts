import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {BpfObject, objGet} from '../bpf/object.js'
import {toolObject} from '../bpf/build.js'
import {tcAttach} from '../bpf/attach.js'
import {closeFd} from '../bpf/ffi.js'
import {mapLookup, mapUpdate} from '../bpf/map-ops.js'
import {readCounterSlots} from '../bpf/counters.js'
import {cidrInfo} from '../net/ipv4.js'

// ebpfcni's own TC program on each node's port of the underlay bridge (bpf/tool/underlay.bpf.c):
// it counts what the underlay carries and, when strict, drops packets to pod addresses, as a
// cloud VPC would. Loaded once per cluster and pinned in the cluster's pin dir; the cluster
// records that dir in the ledger before it loads.

export interface UnderlayCounts {
  ipv4: bigint
  vxlan: bigint
  /** Packets to pod addresses carried in the clear (native routing). */
  podClear: bigint
  /** Of those, dropped because the underlay is strict. */
  dropped: bigint
}

export class UnderlayProgram {
  constructor(
    /** Where the program and its maps are pinned. */
    readonly pinDir: string,
    /** The cluster CIDR: what counts as a pod address. */
    private readonly clusterCidr: string,
  ) {}

  private get prog(): string {
    return join(this.pinDir, 'underlay')
  }

  loaded(): boolean {
    return existsSync(this.prog)
  }

  /** Build (once, cached), load and pin the program; the underlay starts open. */
  async load(): Promise<void> {
    const object = await toolObject('underlay', 'underlay program')
    mkdirSync(this.pinDir, {recursive: true})
    const o = BpfObject.open(object, {pinRoot: this.pinDir})
    try {
      const loaded = o.load()
      if (!loaded.ok) throw new Error(`the kernel refused ebpfcni's underlay program: ${loaded.log.slice(-300)}`)
      o.pinProgram('underlay', this.prog)
    } finally {
      o.close()
    }
    this.configure(false)
  }

  /** On TC ingress of a node's port of the bridge: what the node sends. */
  attach(ifindex: number): void {
    const fd = objGet(this.prog)
    try {
      tcAttach(ifindex, 'ingress', fd)
    } finally {
      closeFd(fd)
    }
  }

  /** Unpin the program and its maps (attachments go with the links). */
  remove(): void {
    rmSync(this.pinDir, {recursive: true, force: true})
  }

  /** Strict: the underlay drops packets to pod addresses (a cloud VPC's view); open: it carries them. */
  configure(strict: boolean): void {
    // struct underlay_config {__u32 strict; __be32 cluster_net, cluster_mask;}
    const c = cidrInfo(this.clusterCidr)
    const value = Buffer.alloc(12)
    value.writeUInt32LE(strict ? 1 : 0, 0)
    value.writeUInt32BE(c.net, 4)
    value.writeUInt32BE(2 ** 32 - (c.bcast - c.net + 1), 8)
    const fd = objGet(join(this.pinDir, 'underlay_config'))
    try {
      mapUpdate(fd, Buffer.alloc(4), value)
    } finally {
      closeFd(fd)
    }
  }

  /** Whether the underlay drops pod addresses now. */
  strict(): boolean {
    const fd = objGet(join(this.pinDir, 'underlay_config'))
    try {
      const v = mapLookup(fd, Buffer.alloc(4), 12)
      return !!v && v.readUInt32LE(0) === 1
    } finally {
      closeFd(fd)
    }
  }

  counts(): UnderlayCounts {
    const pin = join(this.pinDir, 'underlay_counts')
    const [ipv4, vxlan, podClear, dropped] = existsSync(pin) ? readCounterSlots(pin, 4) : [0n, 0n, 0n, 0n]
    return {ipv4, vxlan, podClear, dropped}
  }
}
