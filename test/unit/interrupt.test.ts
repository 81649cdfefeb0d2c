import {describe, it, expect, vi, afterEach} from 'vitest'
import {installInterruptHandlers, interrupted, onInterrupt, INTERRUPT_SIGNALS} from '../../src/host/interrupt.js'

// The signal handler's order: every run's own cleanup first, then the sweeps registered `last`
// (lab --auto's reset), which must see what the others left rather than race them. SIGHUP (a
// closing terminal) ends a run as Ctrl-C and SIGTERM do.

describe('interrupt handlers', () => {
  afterEach(() => vi.restoreAllMocks())

  it('handle SIGINT, SIGTERM and SIGHUP; a `last` cleanup starts once the others have settled; exit 130', async () => {
    expect(INTERRUPT_SIGNALS).toEqual(['SIGINT', 'SIGTERM', 'SIGHUP'])
    const before = new Map(INTERRUPT_SIGNALS.map((s) => [s, process.listenerCount(s)]))
    const said: string[] = []
    installInterruptHandlers((line) => said.push(line))
    for (const s of INTERRUPT_SIGNALS) expect(process.listenerCount(s), s).toBe(before.get(s)! + 1)

    const order: string[] = []
    let exited: (code: number) => void
    const exit = new Promise<number>((resolve) => (exited = resolve))
    vi.spyOn(process, 'exit').mockImplementation(((code: number) => exited(code)) as never)
    onInterrupt(
      async () => {
        order.push('sweep starts')
      },
      {last: true},
    )
    onInterrupt(async () => {
      order.push('pods start')
      await new Promise((r) => setTimeout(r, 50))
      order.push('pods gone')
    })
    onInterrupt(async () => {
      throw new Error('one cleanup failing does not stop the sweep')
    })

    process.emit('SIGHUP', 'SIGHUP')
    expect(interrupted()).toBe(true)
    expect(await exit).toBe(130)
    expect(order).toEqual(['pods start', 'pods gone', 'sweep starts'])
    expect(said[0]).toMatch(/^SIGHUP: removing what this run made/)
  })
})
