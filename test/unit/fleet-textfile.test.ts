import {describe, it, expect, afterAll} from 'vitest'
import {mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {textfileMetrics, verdictOk} from '../../src/fleet/textfile.js'
import {parseExposition, promtoolCheck} from '../../src/metrics/exposition.js'
import {cliRunner} from '../helpers/env.js'

// The room's per-VM metrics: what status --json says, as node-exporter textfile metrics that
// promtool accepts, and the provisioning verdicts when their files exist.

const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-room-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

describe('fleet textfile', () => {
  const labs = [
    {
      lab: 1,
      steps: [
        {id: 'skeleton', done: true, attempts: 3, hintsSeen: 1, checksPassed: 4, checksTotal: 4},
        {id: 'add', done: false, attempts: 5, hintsSeen: 2, checksPassed: 3, checksTotal: 6},
      ],
    },
  ]

  it('per-step metrics, doctor and smoke verdicts and the version, which promtool accepts', async () => {
    const text = textfileMetrics(labs, {version: '0.9.0', doctorOk: true, smokeOk: false, now: 1_700_000_000_000})
    expect(await promtoolCheck(text)).toBeUndefined()
    const got = parseExposition(text)
    const v = (name: string, labels: Record<string, string> = {}) =>
      got.find((s) => s.name === name && Object.entries(labels).every(([k, x]) => s.labels[k] === x))?.value
    expect(v('ebpfcni_step_done', {lab: '1', step: 'skeleton'})).toBe(1)
    expect(v('ebpfcni_step_done', {lab: '1', step: 'add'})).toBe(0)
    expect(v('ebpfcni_step_attempts', {step: 'add'})).toBe(5)
    expect(v('ebpfcni_hints_shown', {step: 'add'})).toBe(2)
    expect([v('ebpfcni_doctor_ok'), v('ebpfcni_smoke_ok'), v('ebpfcni_info', {version: '0.9.0'})]).toEqual([1, 0, 1])
    // No verdict file: no metric, rather than a made-up 0.
    expect(parseExposition(textfileMetrics(labs, {version: '0.9.0'})).some((s) => s.name === 'ebpfcni_doctor_ok')).toBe(
      false,
    )
  })

  it('reads verdicts from doctor --json and lab all --auto --json (passed), and an unreadable file as not ok', () => {
    const f = (name: string, text: string) => {
      writeFileSync(join(tmp, name), text)
      return join(tmp, name)
    }
    expect(verdictOk(f('d.json', '{"passed": true, "items": []}'))).toBe(true)
    expect(verdictOk(f('s.json', '{"passed": false}'))).toBe(false)
    expect(verdictOk(f('bad.json', 'not json'))).toBe(false)
    expect(verdictOk(join(tmp, 'absent.json'))).toBeUndefined()
  })

  it("the command writes the file (atomically) where it is told, from this workspace's progress", async () => {
    const state = join(tmp, 'state')
    mkdirSync(join(state, 'room'), {recursive: true})
    writeFileSync(join(state, 'room', 'doctor.json'), '{"passed": true}')
    const out = join(tmp, 'ne', 'ebpfcni.prom')
    const r = await cliRunner({EBPFCNI_STATE_DIR: state, CI: 'true'})([
      'fleet',
      'textfile',
      '--out',
      out,
      '--workspace',
      join(tmp, 'ws'),
    ])
    expect(r.exitCode, r.stderr).toBe(0)
    const text = readFileSync(out, 'utf8')
    expect(text).toMatch(/^ebpfcni_step_done\{lab="1",step="skeleton"\} 0$/m)
    expect(text).toMatch(/^ebpfcni_doctor_ok 1$/m)
    expect(text).not.toMatch(/ebpfcni_smoke_ok/)
  })
})
