import {describe, it, expect} from 'vitest'
import {parseHost, parseHostList} from '../../src/fleet/hosts.js'
import {isStuck, rowFromStatus, stepCounts, whereNow, type LabView} from '../../src/fleet/attendee.js'
import {fileSdTargets, prometheusConfig, recordingRules} from '../../src/fleet/prometheus.js'
import {sshArgs, describeSshFailure, mapBounded} from '../../src/fleet/ssh.js'
import {parse} from 'yaml'

const step = (id: string, o: Partial<LabView['steps'][number]> = {}): LabView['steps'][number] => ({
  id,
  done: false,
  attempts: 0,
  hintsSeen: 0,
  startedAt: null,
  lastCheckedAt: null,
  progressAt: null,
  failing: null,
  ...o,
})

describe('host lists', () => {
  it('reads lines with comments, users, ports and IPv6; junk and duplicates are problems with their line', () => {
    const list = parseHostList(
      [
        '# room A',
        'vm-01.example',
        'root@10.0.0.5:2222  # the odd one',
        '[fd00::5]:22',
        'not a host',
        'vm-01.example',
        'a@b@c',
        'x:99999',
        '',
      ].join('\n'),
    )
    expect(list.hosts).toEqual([
      {name: 'vm-01.example', address: 'vm-01.example'},
      {name: 'root@10.0.0.5:2222', address: '10.0.0.5', user: 'root', port: 2222},
      {name: '[fd00::5]:22', address: 'fd00::5', port: 22},
    ])
    expect(list.problems.map((p) => [p.line, p.message])).toEqual([
      [5, 'not a host: expected [user@]host[:port]'],
      [6, 'the same host as line 2; asked once'],
      [7, '"b@c" is neither a host name nor an IP address'],
      [8, 'port 99999 is out of range (1–65535)'],
    ])
  })

  it("reads terraform output -json (only the outputs' values) and vagrant ssh-config", () => {
    const tf = JSON.stringify({
      ips: {sensitive: false, type: ['list', 'string'], value: ['10.1.0.1', '10.1.0.2']},
      lb: {type: 'string', value: 'lb.example', sensitive: false},
    })
    expect(parseHostList(tf).hosts.map((h) => h.address)).toEqual(['10.1.0.1', '10.1.0.2', 'lb.example'])
    const vagrant = [
      'Host default',
      '  HostName 127.0.0.1',
      '  User vagrant',
      '  Port 2222',
      '  IdentityFile "/v/private_key"',
      '',
      'Host two',
      '  User vagrant',
    ].join('\n')
    const v = parseHostList(vagrant)
    expect(v.hosts).toEqual([
      {name: 'default', address: '127.0.0.1', user: 'vagrant', port: 2222, identity: '/v/private_key'},
    ])
    expect(sshArgs(v.hosts[0], {connectTimeoutS: 3, timeoutMs: 9000, identity: '/room'}, ['x'])).toContain(
      '/v/private_key',
    )
    expect(v.problems[0]).toMatchObject({line: 7, message: 'no HostName in this block'})
    expect(parseHostList('{"a": ').problems[0].message).toMatch(/^not valid JSON/)
  })

  it('refuses names that would become ssh options or shell', () => {
    expect(parseHost('-oProxyCommand=x')).toMatch(/neither a host name nor an IP address/)
    expect(parseHost('$(reboot)')).toMatch(/neither/)
    expect(sshArgs({name: 'h', address: 'h'}, {connectTimeoutS: 3, timeoutMs: 9000}, ['ebpfcni', 'status'])).toContain(
      '--',
    )
  })
})

describe('attendee rows', () => {
  const now = Date.parse('2026-11-30T12:00:00Z')
  const ago = (m: number) => new Date(now - m * 60_000).toISOString()
  it('where: the step most recently opened or checked, across labs', () => {
    const labs: LabView[] = [
      {
        lab: 1,
        steps: [step('a', {startedAt: ago(50), lastCheckedAt: ago(40), done: true}), step('b', {startedAt: ago(30)})],
      },
      {lab: 2, steps: [step('x', {startedAt: ago(35)})]},
    ]
    expect(whereNow(labs)).toMatchObject({lab: 1, step: {id: 'b'}})
    expect(whereNow([{lab: 1, steps: [step('a')]}])).toBeUndefined()
  })

  it('stuck: failing runs and no progress for the threshold; not when done, not before a first check', () => {
    const rule = {stuckMinutes: 10, now}
    const on = (o: Partial<LabView['steps'][number]>) =>
      rowFromStatus('h', [{lab: 1, steps: [step('add', {startedAt: ago(30), ...o})]}], rule)
    expect(on({attempts: 3, progressAt: ago(12), failing: 'cni.add.ip'})).toMatchObject({
      stuck: true,
      failing: 'cni.add.ip',
      minutesOnStep: 30,
    })
    expect(on({attempts: 3, progressAt: ago(9)}).stuck).toBe(false)
    expect(on({attempts: 0}).stuck).toBe(false)
    expect(on({attempts: 5, done: true}).stuck).toBe(false)
    expect(isStuck({done: false, attempts: 1, minutesSinceProgress: 10}, rule)).toBe(true)
    const rows = [
      on({attempts: 3, progressAt: ago(12)}),
      on({attempts: 1}),
      {host: 'z', state: 'down' as const, stuck: false},
    ]
    expect(stepCounts(rows)).toEqual([
      {where: 'down', count: 1, stuck: 0},
      {where: 'lab 1 add', count: 2, stuck: 2},
    ])
  })
})

describe('Prometheus files', () => {
  it('file_sd targets per host on the exporter port, IPv6 bracketed, labelled with the line', () => {
    expect(
      fileSdTargets(
        [
          {name: 'root@vm1', address: 'vm1', user: 'root'},
          {name: 'v6', address: 'fd00::1'},
        ],
        9100,
      ),
    ).toEqual([
      {targets: ['vm1:9100'], labels: {attendee: 'root@vm1'}},
      {targets: ['[fd00::1]:9100'], labels: {attendee: 'v6'}},
    ])
  })
  it('the config keeps only ebpfcni series; the stuck rule carries the threshold in seconds', () => {
    const c = parse(prometheusConfig({scrapeIntervalS: 15})) as {
      scrape_configs: Array<{metric_relabel_configs: Array<{regex: string}>}>
    }
    expect(c.scrape_configs[0].metric_relabel_configs[0].regex).toBe('ebpfcni_.*')
    const r = parse(recordingRules({stuckMinutes: 7})) as {
      groups: Array<{rules: Array<{record?: string; expr: string}>}>
    }
    expect(r.groups[0].rules.find((x) => x.record === 'ebpfcni:attendees_stuck')?.expr).toContain('>= 420')
  })
})

describe('ssh pool', () => {
  it('never runs more than the limit at once, and keeps the order', async () => {
    let running = 0
    let most = 0
    const out = await mapBounded([5, 1, 4, 2, 3, 1, 1, 2], 3, async (n) => {
      most = Math.max(most, ++running)
      await new Promise((r) => setTimeout(r, n * 5))
      running--
      return n * 10
    })
    expect(most).toBe(3)
    expect(out).toEqual([50, 10, 40, 20, 30, 10, 10, 20])
  })
  it("turns ssh failures into the instructor's words", () => {
    const o = {connectTimeoutS: 3, timeoutMs: 9000}
    const r = (exitCode: number, stderr: string, timedOut = false) =>
      describeSshFailure(
        {command: 'ssh', exitCode, stdout: '', stderr, timedOut, outputCapped: false, durationMs: 1},
        o,
        ['ebpfcni', 'status'],
      )
    expect(r(255, 'ssh: connect to host 10.0.0.1 port 22: Connection refused')).toMatch(/^down: nothing listens/)
    expect(r(255, 'ssh: connect to host 10.0.0.1 port 22: Connection timed out')).toMatch(/^unreachable/)
    expect(r(255, 'root@h: Permission denied (publickey).')).toMatch(/refused the key/)
    expect(r(127, 'bash: ebpfcni: command not found')).toBe('ebpfcni is not installed there (exit 127)')
    expect(r(0, '', true)).toMatch(/no answer within 9 s/)
    // What the host printed on stdout is quoted: cloud-init's refusal of root, an ebpfcni --json error.
    const out = (exitCode: number, stdout: string, stderr = '') =>
      describeSshFailure(
        {command: 'ssh', exitCode, stdout, stderr, timedOut: false, outputCapped: false, durationMs: 1},
        o,
        ['ebpfcni', 'status', '--json'],
      )
    expect(out(142, 'Please login as the user "debian" rather than the user "root".\n\n')).toBe(
      'ebpfcni status --json exited 142: it printed "Please login as the user "debian" rather than the user "root"." ' +
        `(cloud-init's disable_root: the VM lets in only "debian"; fleet user-data's config lets root in with your key)`,
    )
    expect(out(2, '{"error": {"message": "there is no lab \\"9\\"", "exitCode": 2}}', 'warning: x')).toBe(
      'ebpfcni status --json exited 2: warning: x; it printed "there is no lab "9""',
    )
    expect(out(1, '')).toBe('ebpfcni status --json exited 1')
  })
})
