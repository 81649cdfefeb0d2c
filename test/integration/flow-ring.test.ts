import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {buildBpf} from '../../src/bpf/build.js'
import {BpfObject, testRun} from '../../src/bpf/object.js'
import {readCounterSlot} from '../../src/bpf/counters.js'
import {ipv4Tcp} from '../../src/bpf/frames.js'
import {repoRoot, requireRoot, tempStateDir, uniq} from '../helpers/env.js'

// What ebpfcni_flow.h (and the README's troubleshooting row) say the ring holds, shown: a record
// is the 32-byte event plus the ring's 8-byte header, rounded up to 8, so 256 KiB holds 6553.

describe("the flow ring's size, as the header states it", () => {
  const t = tempStateDir('ebpfcni-ring-')
  const pinRoot = `/sys/fs/bpf/ebpfcni-test-ring-${uniq()}`

  beforeAll(() => {
    requireRoot()
    mkdirSync(pinRoot)
  })
  afterAll(() => {
    rmSync(pinRoot, {recursive: true, force: true})
    t.cleanup()
  })

  it('an unread 256 KiB ring holds 6553 events: flow_lost counts from the 6554th on', async () => {
    const built = await buildBpf(join(repoRoot, 'test/fixtures/bpf/flow_ring_fill.bpf.c'), join(t.dir, 'fill.o'))
    expect(built.ok, built.problem).toBe(true)
    const obj = BpfObject.open(built.object, {pinRoot})
    try {
      const loaded = obj.load()
      expect(loaded.ok, loaded.ok ? '' : loaded.log).toBe(true)
      const prog = obj.programs().find((p) => p.name === 'fill_ring')!
      const frame = ipv4Tcp('10.239.0.1', '10.239.0.2', 80)
      const lost = readCounterSlot(join(pinRoot, 'flow_lost'))
      testRun(prog.fd, frame, 6553)
      expect(readCounterSlot(join(pinRoot, 'flow_lost')) - lost, 'lost while the ring still had room').toBe(0n)
      testRun(prog.fd, frame, 10)
      expect(readCounterSlot(join(pinRoot, 'flow_lost')) - lost, 'lost once the ring was full').toBe(10n)
    } finally {
      obj.close()
    }
    // The texts say so in round figures.
    expect(readFileSync(join(repoRoot, 'bpf/ebpfcni_flow.h'), 'utf8')).toMatch(/about 6,550 events/)
    expect(readFileSync(join(repoRoot, 'README.md'), 'utf8')).toMatch(/256 KiB, about 6500 events/)
  })
})
