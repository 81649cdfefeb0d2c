import {mkdtempSync, mkdirSync, existsSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {Ledger} from '../../src/host/ledger.js'
import {ResetService} from '../../src/reset/service.js'
import {baseRemovers} from '../../src/reset/removers.js'

// reset --dry-run listed "remove directory /sys/fs/bpf/ebpfcni if empty" once per run that made it.
describe('reset plans one action per directory, whatever the number of runs that recorded it', () => {
  const dirs: string[] = []
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, {recursive: true, force: true})))

  it('three entries for one pin directory: one action, and all three forgotten once it is done', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-reset-'))
    dirs.push(tmp)
    const ledger = new Ledger(join(tmp, 'ledger.json'))
    const pins = join(tmp, 'pins')
    const other = join(tmp, 'other')
    mkdirSync(pins)
    mkdirSync(other)
    for (let i = 0; i < 3; i++) ledger.record('dir', pins, {lab: 2})
    ledger.record('dir', other, {lab: 2})
    ledger.record('dir', join(tmp, 'scratch'), {lab: 2, details: {scratch: true}})
    ledger.record('dir', join(tmp, 'scratch'), {lab: 2})
    const service = new ResetService(ledger, baseRemovers)
    const plan = await service.plan()
    const lines = plan.map((a) => a.description)
    expect(lines.filter((l) => l === `remove directory ${pins} if empty`)).toHaveLength(1)
    expect(lines.filter((l) => l === `remove directory ${other} if empty`)).toHaveLength(1)
    // A scratch directory (all of it goes) is not the same action as "if empty", though the same path.
    expect(lines).toContain(`remove scratch directory ${join(tmp, 'scratch')}`)
    expect(lines).toContain(`remove directory ${join(tmp, 'scratch')} if empty`)
    expect(plan).toHaveLength(4)
    await service.execute(plan)
    expect(ledger.entries()).toEqual([])
    expect(existsSync(pins)).toBe(false)
  })
})
