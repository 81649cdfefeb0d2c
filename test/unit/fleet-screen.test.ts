import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {fleetScreen, fleetCountLine, fleetTable} from '../../src/ui/fleet-view.js'
import {fleetFromPrometheus} from '../../src/fleet/prometheus.js'
import type {AttendeeRow} from '../../src/fleet/attendee.js'
import {fakePrometheus, roomOf, type FakePrometheus} from '../helpers/fake-prometheus.js'

// fleet top's live view at the room's real size: 50 and 500 VMs in a 120×40 terminal. A redraw
// that is taller than the screen scrolls, and the rows sorted first (the stuck) are the ones lost.

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '')
const HEADER = '21:00:00  http://127.0.0.1:9090  (every 5 s; Ctrl-C stops)'

describe('fleet top fits the terminal', () => {
  const rooms: Record<number, AttendeeRow[]> = {}
  const fakes: FakePrometheus[] = []
  beforeAll(async () => {
    for (const n of [50, 500]) {
      const fake = await fakePrometheus(roomOf(n))
      fakes.push(fake)
      rooms[n] = await fleetFromPrometheus(fake.url, {stuckMinutes: 10, timeoutMs: 10_000})
    }
  })
  afterAll(async () => {
    for (const f of fakes) await f.close()
  })

  it.each([50, 500])(
    '%i VMs at 120×40: no line over 120, at most 40 lines, stuck then down first, the rest counted',
    (n) => {
      const rows = rooms[n]
      expect(rows).toHaveLength(n)
      const lines = fleetScreen(rows, {columns: 120, rows: 40}, HEADER).map(plain)
      expect(lines.length).toBeLessThanOrEqual(40)
      for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(120)
      expect(lines[0]).toBe(HEADER)
      const stuck = rows.filter((r) => r.stuck).length
      const down = rows.filter((r) => r.state === 'down').length
      expect(lines[1]).toBe(
        `${n} attendee VM(s): ${stuck} stuck · ${down} down · 0 error · ${rows.filter((r) => r.state === 'ok' && !r.stuck).length} on a step · ${rows.filter((r) => r.state === 'idle').length} not started`,
      )
      const table = lines.findIndex((l) => l.startsWith('HOST'))
      const body = lines.slice(table + 1, -1)
      // Stuck attendees first, then the VMs that do not answer, every row one line.
      const shownStuck = Math.min(stuck, body.length)
      expect(body.slice(0, shownStuck).every((l) => /stuck \d+ min$/.test(l))).toBe(true)
      if (stuck < body.length)
        expect(body[stuck]).toMatch(/^root@\S+\s+down: Prometheus cannot scrape \S+ \(up == 0\)$/)
      const footer = lines.at(-1) as string
      const more = Number(/^… (\d+) more \(/.exec(footer)?.[1])
      expect(body.length + more).toBe(n)
      expect(footer).toMatch(/fleet top --once lists every VM$/)
    },
  )

  it('500 VMs: as many stuck as fit, the others counted as stuck; the attendees per step in at most three lines', () => {
    const lines = fleetScreen(rooms[500], {columns: 120, rows: 40}, HEADER).map(plain)
    const stuckShown = lines.filter((l) => /stuck \d+ min$/.test(l)).length
    const stuck = rooms[500].filter((r) => r.stuck).length
    expect(stuck).toBe(43)
    // 43 stuck attendees do not fit 40 lines: as many as fit, and the rest are counted as stuck.
    expect(lines.at(-1)).toMatch(
      new RegExp(`^… \\d+ more \\(${stuck - stuckShown} stuck, 20 not answering, \\d+ on a step, \\d+ not started\\)`),
    )
    const table = lines.findIndex((l) => l.startsWith('HOST'))
    expect(table - 3).toBeLessThanOrEqual(3) // header, count line, step lines, blank
    const perStep = lines.slice(2, table - 1).join(' · ')
    expect(perStep).toMatch(/lab 1 del: \d+ \(\d+ stuck\)/)
    // Every attendee on a step is counted once in those lines.
    const counted = [...perStep.matchAll(/lab \d \w+: (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0)
    expect(counted).toBe(rooms[500].filter((r) => r.state === 'ok').length)
  })

  it('the row that wrapped at 129 columns (a down VM with a long message) is one line, cut with an ellipsis', () => {
    const row: AttendeeRow = {
      host: 'root@ip-10-0-113-250.eu-west-1.compute.internal',
      state: 'down',
      message:
        'Prometheus cannot scrape ip-10-0-113-250.eu-west-1.compute.internal:9100 (up == 0): context deadline exceeded',
      stuck: false,
    }
    expect(plain(fleetTable([row])).split('\n')[1].length).toBeGreaterThan(120) // the full table, as before
    const lines = fleetScreen([row], {columns: 120, rows: 40}, HEADER).map(plain)
    const shown = lines.find((l) => l.startsWith('root@')) as string
    expect(shown.length).toBeLessThanOrEqual(120)
    expect(shown).toMatch(/^root@ip-10-0-113-250\.eu-wes…\s+down: Prometheus cannot scrape .*…$/)
  })

  it('a terminal too small for the table still gets no more lines than it has, and never a wrapped one', () => {
    for (const size of [
      {columns: 40, rows: 6},
      {columns: 20, rows: 3},
      {columns: 200, rows: 12},
    ]) {
      const lines = fleetScreen(rooms[500], size, HEADER).map(plain)
      expect(lines.length, JSON.stringify(size)).toBeLessThanOrEqual(size.rows)
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(Math.max(20, size.columns))
    }
  })

  it('counts the room in one line, a bad host line included', () => {
    expect(
      fleetCountLine([
        {host: 'a', state: 'ok', lab: 1, step: 'add', stuck: true},
        {host: 'b', state: 'error', message: 'x', stuck: false},
        {host: 'line 3: junk', state: 'bad-line', message: 'not a host', stuck: false},
      ]),
    ).toBe('2 attendee VM(s): 1 stuck · 0 down · 1 error · 0 on a step · 0 not started · 1 not a host')
  })
})
