import {describe, it, expect} from 'vitest'
import {parseProcNetTcp, watchedProbe, type ProbeResult, type RequestFate} from '../../src/net/probes.js'

// The parts of the traffic probes that need no namespace: reading /proc/net/tcp, and ending a
// probe early only on a proven drop (the probes themselves run in the integration tests).

describe('parseProcNetTcp', () => {
  it("reads each socket's own port, its peer and its state (addresses in the host's byte order of the packet's bytes)", () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:24DB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 10381454 1 0 100 0 0 10 0',
      '   1: 0200F90A:A1B2 0100F90A:0050 02 00000001:00000000 01:00000064 00000001     0        0 0 2 0 100 0 0 10 -1',
    ].join('\n')
    expect(parseProcNetTcp(text)).toEqual([
      {localPort: 0x24db, remoteIp: '0.0.0.0', remotePort: 0, state: 'LISTEN'},
      {localPort: 0xa1b2, remoteIp: '10.249.0.1', remotePort: 80, state: 'SYN_SENT'},
    ])
  })

  it('an empty table is no socket', () => {
    expect(parseProcNetTcp('  sl  local_address rem_address   st\n')).toEqual([])
  })
})

describe('watchedProbe', () => {
  /** A probe that answers `result` after `ms`, or ends failed when aborted first. */
  const probe =
    (result: ProbeResult, ms: number) =>
    (signal: AbortSignal): Promise<ProbeResult> =>
      new Promise((resolve) => {
        const t = setTimeout(() => resolve(result), ms)
        signal.addEventListener('abort', () => {
          clearTimeout(t)
          resolve({ok: false, detail: 'killed', durationMs: 0})
        })
      })
  const dropped: RequestFate = {fate: 'dropped', detail: 'to_pod reported DROPPED and returns TC_ACT_SHOT'}

  it('ends a probe whose packets the witness proves dropped, failed, saying how it is known', async () => {
    const r = await watchedProbe(probe({ok: false, detail: 'timed out', durationMs: 0}, 60_000), async () => dropped)
    expect(r.ok).toBe(false)
    expect(r.proven).toEqual(dropped)
  })

  it('waits for the probe while the witness proves nothing', async () => {
    let asked = 0
    const r = await watchedProbe(probe({ok: true, detail: 'answered', durationMs: 0}, 200), async () => {
      asked++
      return undefined
    })
    expect(r).toEqual({ok: true, detail: 'answered', durationMs: 0})
    expect(asked).toBeGreaterThan(0)
  })

  it('a probe that got through is judged by its own result, whatever the witness says', async () => {
    const r = await watchedProbe(
      async () => ({ok: true, detail: 'answered', durationMs: 0}),
      async () => dropped,
    )
    expect(r).toEqual({ok: true, detail: 'answered', durationMs: 0})
  })
})
