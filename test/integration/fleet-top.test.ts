import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {cliBin, requireBuilt, tempStateDir, uniq} from '../helpers/env.js'
import {fakePrometheus, roomOf, type FakePrometheus} from '../helpers/fake-prometheus.js'

// `fleet top` as the instructor sees it: live, in a real 120×40 terminal (tmux), over a room of 50
// and of 500 VMs (a stand-in Prometheus on 127.0.0.1 answers for them). The screen must hold the
// header, the count line and the stuck attendees after several redraws: a redraw taller than the
// terminal scrolls, and the rows sorted first are the ones that disappear.
// EBPFCNI_CAPTURES=DIR keeps each screen as DIR/fleet-top-N.txt.

const COLUMNS = 120
const ROWS = 40

describe('fleet top in a 120×40 terminal', () => {
  const t = tempStateDir('ebpfcni-fleet-top-')
  const sessions: string[] = []
  const fakes: FakePrometheus[] = []
  const tmux = (...args: string[]) => execa('tmux', args, {reject: false, timeout: 10_000})
  /** The visible screen, wrapped lines joined (-J): a line longer than the terminal had wrapped. */
  const screen = async (s: string) => (await tmux('capture-pane', '-p', '-J', '-t', s)).stdout.split('\n')
  const waitFor = async (s: string, ok: (lines: string[]) => boolean, what: string, ms = 20_000) => {
    const t0 = Date.now()
    for (;;) {
      const lines = await screen(s)
      if (ok(lines)) return lines
      if (Date.now() - t0 > ms) throw new Error(`the screen never showed ${what}; it shows:\n${lines.join('\n')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  beforeAll(async () => {
    requireBuilt()
    if ((await execa('which', ['tmux'], {reject: false})).exitCode !== 0)
      throw new Error('tmux is missing: apt-get install tmux (scripts/setup.sh installs it)')
  })
  afterAll(async () => {
    for (const s of sessions) await tmux('kill-session', '-t', s)
    for (const f of fakes) await f.close()
    t.cleanup()
  })

  const start = async (fake: FakePrometheus) => {
    const session = `efltop-${uniq()}`
    sessions.push(session)
    // Several arguments: tmux runs the command itself, no shell. CI unset: fleet top sees a terminal.
    const started = await tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      String(COLUMNS),
      '-y',
      String(ROWS),
      'env',
      '-u',
      'CI',
      `EBPFCNI_STATE_DIR=${t.dir}`,
      'node',
      cliBin,
      'fleet',
      'top',
      '--prometheus',
      fake.url,
      '--interval',
      '1',
      '--stuck',
      '10',
    )
    expect(started.exitCode, started.stderr).toBe(0)
    return session
  }

  it.each([50, 500])(
    '%i VMs: header, count line and the stuck first stay on screen across redraws; nothing wraps; the rest is a count',
    async (n) => {
      const fake = await fakePrometheus(roomOf(n))
      fakes.push(fake)
      const session = await start(fake)
      const drawn = (lines: string[]) => lines.some((l) => /^… \d+ more \(/.test(l))
      const first = await waitFor(session, drawn, 'a whole room')
      // Let it redraw at least twice (every 1 s), then read the screen again.
      const queries = fake.queries
      const lines = await waitFor(session, (l) => drawn(l) && fake.queries >= queries + 16, 'two more redraws', 10_000)
      if (process.env.EBPFCNI_CAPTURES) {
        mkdirSync(process.env.EBPFCNI_CAPTURES, {recursive: true})
        writeFileSync(join(process.env.EBPFCNI_CAPTURES, `fleet-top-${n}.txt`), `${lines.join('\n')}\n`)
      }
      for (const l of [...first, ...lines]) expect(l.length, l).toBeLessThanOrEqual(COLUMNS)
      expect(lines.length).toBeLessThanOrEqual(ROWS)
      // The top line is the header: nothing scrolled off.
      expect(lines[0]).toMatch(
        new RegExp(`^\\d\\d?:\\d\\d:\\d\\d( [AP]M)?  ${fake.url.replace(/\./g, '\\.')}  \\(every 1 s`),
      )
      const stuck = fake.vms.filter((v) => v.up && (v.progressMinAgo ?? 0) >= 10 && (v.attempts ?? 0) > 0).length
      const down = fake.vms.filter((v) => !v.up).length
      expect(lines[1]).toMatch(new RegExp(`^${n} attendee VM\\(s\\): ${stuck} stuck · ${down} down · 0 error · `))
      const head = lines.findIndex((l) => /^HOST\s+ON\s+FOR\s+RUNS\s+HINTS\s+FAILING CHECK\s+NOTE$/.test(l))
      expect(head).toBeGreaterThan(1)
      const body = lines.slice(head + 1).filter((l) => l.startsWith('root@'))
      // The stuck attendees first, as many as fit, then the VMs that are down.
      const stuckShown = body.filter((l) => /stuck \d+ min$/.test(l)).length
      expect(stuckShown).toBe(Math.min(stuck, body.length))
      expect(
        body.slice(0, stuckShown).every((l) => /^root@\S+\s+lab \d \w+\s+30 min\s+3\s+2\s+\S+\s+stuck 25 min$/.test(l)),
      ).toBe(true)
      if (stuck < body.length)
        expect(body[stuck]).toMatch(/^root@\S+\s+down: Prometheus cannot scrape \S+ \(up == 0\)$/)
      const footer = lines.filter(Boolean).at(-1) as string
      const more = Number(/^… (\d+) more \(/.exec(footer)?.[1])
      expect(body.length + more).toBe(n)
    },
    60_000,
  )

  it('Prometheus going away mid-session is a line on the screen, and the next round tries again', async () => {
    const fake = await fakePrometheus(roomOf(50))
    const session = await start(fake)
    await waitFor(session, (l) => l.some((x) => x.startsWith('50 attendee VM(s)')), 'the room')
    await fake.close()
    const gone = await waitFor(session, (l) => l.some((x) => /did not answer \(ECONNREFUSED\)/.test(x)), 'the error')
    expect(gone[0]).toMatch(/\(every 1 s; Ctrl-C stops\)$/)
    expect(gone[1]).toMatch(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer \(ECONNREFUSED\)$/)
    // Ctrl-C ends it (the session's command exits, so its pane goes).
    await tmux('send-keys', '-t', session, 'C-c')
    const t0 = Date.now()
    while ((await tmux('has-session', '-t', session)).exitCode === 0 && Date.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 100))
    expect((await tmux('has-session', '-t', session)).exitCode).not.toBe(0)
  }, 60_000)
})
