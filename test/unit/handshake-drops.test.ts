import {describe, it, expect, vi} from 'vitest'
import type {KernelDrop} from '../../src/bpf/kernel-drops.js'
import type {FlowEvent} from '../../src/bpf/flow-events.js'

// Which reported drops are a probe's own handshake: the SYN it sent or the SYN-ACK back to it, on a
// port of the client's that still waits for its answer (SYN_SENT). The client netns's sockets are
// stubbed here; the probes themselves run in lab 4's tests.
vi.mock('../../src/net/probes.js', () => ({
  tcpSockets: async () => [
    {localPort: 40000, remoteIp: '10.9.0.3', remotePort: 80, state: 'SYN_SENT'},
    {localPort: 40002, remoteIp: '10.9.0.3', remotePort: 80, state: 'ESTABLISHED'},
  ],
}))
const {handshakeDrops, handshakeKernelDrops} = await import('../../src/observe/handshake-drops.js')

const client = {netnsPath: '/run/netns/client', ip: '10.9.0.2'}
const server = {ip: '10.9.0.3'}
const packet = (p: Partial<KernelDrop>): KernelDrop => ({
  tsNs: 1n,
  src: '10.9.0.2',
  dst: '10.9.0.3',
  sport: 40000,
  dport: 80,
  proto: 'TCP',
  tcpFlags: 'SYN',
  ifindex: 7,
  netns: 1,
  reason: 'TC_EGRESS',
  reasonId: 5,
  known: true,
  ...p,
})

describe('handshakeKernelDrops', () => {
  it("keeps the probe's own SYN and the SYN-ACK back to it; not another connection's, port or protocol", async () => {
    const drops = [
      packet({}),
      packet({src: '10.9.0.3', dst: '10.9.0.2', sport: 80, dport: 40000, tcpFlags: 'SYN ACK'}),
      packet({sport: 40001}), // no socket of the client waits on this port: another probe's
      packet({sport: 40002}), // answered already: not waiting
      packet({dport: 8080}),
      packet({proto: 'UDP', tcpFlags: ''}),
      packet({tcpFlags: 'ACK'}),
      packet({src: '10.9.0.4'}),
    ]
    const got = await handshakeKernelDrops(drops, client, server, 80)
    expect(got.map((d) => [d.request, d.port, d.drop.tcpFlags])).toEqual([
      [true, 40000, 'SYN'],
      [false, 40000, 'SYN ACK'],
    ])
  })

  it('nothing dropped is nothing proven', async () => {
    expect(await handshakeKernelDrops([], client, server, 80)).toEqual([])
  })
})

describe('handshakeDrops', () => {
  it("reads the programs' DROPPED events only, by the same rule", async () => {
    const event = (p: Partial<FlowEvent>) => ({...packet({}), verdict: 'DROPPED', ...p}) as unknown as FlowEvent
    const got = await handshakeDrops(
      async () => [event({}), event({verdict: 'FORWARDED'}), event({sport: 40001})],
      client,
      server,
      80,
    )
    expect(got.map((d) => [d.request, d.port, d.event.verdict])).toEqual([[true, 40000, 'DROPPED']])
  })

  it('no ring (undefined) is nothing proven', async () => {
    expect(await handshakeDrops(async () => undefined, client, server, 80)).toEqual([])
  })
})
