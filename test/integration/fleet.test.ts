import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {mkdirSync, writeFileSync, readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {createServer} from 'node:net'
import {tempStateDir, requireRoot, requireBuilt, cliRunner, uniq} from '../helpers/env.js'
import {SimulatedRoom, type SimulatedVm} from '../helpers/room.js'
import {progressPath} from '../../src/host/paths.js'
import {Ledger} from '../../src/host/ledger.js'
import type {AttendeeRow} from '../../src/fleet/attendee.js'
import type {ResetRow} from '../../src/fleet/reset.js'

// The instructor's room, for real: six attendee "VMs" (network namespaces running Debian's sshd
// and node-exporter on their own address), one of them stuck mid-lab, one fine, one fresh, one
// with nothing listening, one cut off the network, one that hangs after connecting. fleet report
// (SSH), fleet prometheus + a real Prometheus + fleet top, and fleet reset must all see them.

/** The stuck attendee's row, whichever way the room is read. */
const STUCK_ROW = {state: 'ok', lab: 1, step: 'add', attempts: 3, hints: 2, failing: 'cni.add.ip', stuck: true}
const rowOf = (rows: AttendeeRow[]) => (vm: SimulatedVm) =>
  rows.find((x) => x.host === `root@${vm.address}`) as AttendeeRow
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString()

describe('the room: fleet report, prometheus, top and reset', () => {
  const t = tempStateDir('ebpfcni-fleet-')
  const tag = uniq().slice(0, 5)
  const room = new SimulatedRoom(join(t.dir, 'room'), tag)
  const cli = cliRunner({...process.env, EBPFCNI_STATE_DIR: join(t.dir, 'state'), CI: 'true'} as Record<string, string>)
  const vms: Record<string, SimulatedVm> = {}
  const hostsFile = join(t.dir, 'hosts.txt')
  let promPort = 0
  const ssh = () => [
    '-i',
    room.key,
    '--ssh-option',
    `UserKnownHostsFile=${room.knownHosts}`,
    '--connect-timeout',
    '2',
    '--timeout',
    '5',
  ]
  const dummy = `efl${tag}br`

  /** A VM's progress file, as ebpfcni writes it. */
  const writeProgress = (vm: SimulatedVm, labs: Record<string, unknown>) => {
    const saved = process.env.EBPFCNI_STATE_DIR
    process.env.EBPFCNI_STATE_DIR = vm.stateDir
    const path = progressPath(join(room.dir, vm.name, 'workspace'))
    process.env.EBPFCNI_STATE_DIR = saved
    mkdirSync(join(vm.stateDir, 'progress'), {recursive: true})
    writeFileSync(path, JSON.stringify({version: 1, labs}))
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    await room.init()
    for (const [i, name] of ['stuck', 'busy', 'fresh', 'nothing', 'cutoff', 'hangs'].entries())
      vms[name] = await room.addVm(i + 1)
    // Stuck: on lab 1's add for 30 min, no progress for 25, three failing runs, two hints.
    writeProgress(vms.stuck, {
      '1': {
        startedAt: minutesAgo(40),
        currentStep: 'add',
        steps: {
          skeleton: {
            done: true,
            doneAt: minutesAgo(30),
            checksPassed: 4,
            checksTotal: 4,
            attempts: 2,
            hintsSeen: 0,
            startedAt: minutesAgo(40),
            lastCheckedAt: minutesAgo(30),
          },
          add: {
            done: false,
            checksPassed: 2,
            checksTotal: 7,
            attempts: 3,
            hintsSeen: 2,
            startedAt: minutesAgo(30),
            progressAt: minutesAgo(25),
            lastCheckedAt: minutesAgo(3),
            failing: 'cni.add.ip',
          },
        },
      },
    })
    // Busy: on lab 2, one failing run a minute ago; progress just now.
    writeProgress(vms.busy, {
      '2': {
        startedAt: minutesAgo(5),
        currentStep: 'attach',
        steps: {
          attach: {
            done: false,
            checksPassed: 1,
            checksTotal: 3,
            attempts: 1,
            hintsSeen: 0,
            startedAt: minutesAgo(5),
            progressAt: minutesAgo(1),
            lastCheckedAt: minutesAgo(1),
            failing: 'xdp.loads',
          },
        },
      },
    })
    for (const name of ['stuck', 'busy', 'fresh', 'cutoff']) await room.startSshd(vms[name])
    await room.startSshd(vms.hangs, {forceCommand: 'sleep 600'})
    for (const name of ['stuck', 'busy', 'fresh', 'cutoff']) {
      const r = await cli(['fleet', 'textfile', '--out', join(vms[name].textfileDir, 'ebpfcni.prom')], {
        EBPFCNI_STATE_DIR: vms[name].stateDir,
        EBPFCNI_WORKSPACE: join(room.dir, vms[name].name, 'workspace'),
      })
      expect(r.exitCode, r.stderr).toBe(0)
      await room.startNodeExporter(vms[name])
    }
    await room.cutOff(vms.cutoff)
    writeFileSync(
      hostsFile,
      [
        '# the room, as an instructor types it',
        ...Object.values(vms).map((v) => `root@${v.address}`),
        'this is not a host',
        `root@${vms.stuck.address}`,
        '',
      ].join('\n'),
    )
  }, 120_000)

  afterAll(async () => {
    await room.cleanup()
    t.cleanup()
  })

  it('fleet report: one row per VM over SSH, stuck, fine, fresh, down, cut off and hung each said', async () => {
    const r = await cli(['fleet', 'report', hostsFile, '--json', '--stuck', '10', ...ssh()])
    expect(r.exitCode, r.stderr).toBe(0)
    const rows = (JSON.parse(r.stdout) as {rows: AttendeeRow[]}).rows
    const row = rowOf(rows)
    expect(row(vms.stuck)).toMatchObject({...STUCK_ROW, stepsDone: 1})
    expect(row(vms.stuck).minutesOnStep).toBeGreaterThanOrEqual(29)
    expect(row(vms.busy)).toMatchObject({state: 'ok', lab: 2, step: 'attach', failing: 'xdp.loads', stuck: false})
    expect(row(vms.fresh)).toMatchObject({state: 'idle', stuck: false})
    expect(row(vms.nothing)).toMatchObject({state: 'down'})
    expect(row(vms.nothing).message).toMatch(/connection refused/)
    expect(row(vms.cutoff).state).toBe('down')
    expect(row(vms.cutoff).message).toMatch(/unreachable|timed out/)
    expect(row(vms.hangs)).toMatchObject({state: 'error'})
    expect(row(vms.hangs).message).toMatch(/no answer within 5 s/)
    const bad = rows.filter((x) => x.state === 'bad-line')
    expect(bad.map((b) => b.message)).toEqual([
      'not a host: expected [user@]host[:port]',
      'the same host as line 2; asked once',
    ])
    expect(rows).toHaveLength(8)

    const text = await cli(['fleet', 'report', hostsFile, '--stuck', '10', ...ssh()])
    expect(text.exitCode, text.stderr).toBe(0)
    expect(text.stdout).toMatch(/lab 1 add\s+30 min\s+3\s+2\s+cni\.add\.ip\s+stuck: no progress for 25 min/)
    expect(text.stdout).toMatch(/6 attendee VM\(s\) · .*lab 1 add: 1 \(1 stuck\)/)
  }, 60_000)

  it('fleet prometheus writes a config promtool accepts; Prometheus scrapes the VMs and fleet top shows the room', async () => {
    const out = join(t.dir, 'prom')
    const w = await cli(['fleet', 'prometheus', hostsFile, '--out', out, '--scrape-interval', '1', '--stuck', '10'])
    expect(w.exitCode, w.stderr).toBe(0)
    expect(w.stderr).toMatch(/line 8 .*skipped \(this is not a host\): not a host/)
    const targets = JSON.parse(readFileSync(join(out, 'ebpfcni-targets.json'), 'utf8')) as Array<{targets: string[]}>
    expect(targets.map((g) => g.targets[0])).toEqual(Object.values(vms).map((v) => `${v.address}:9100`))
    const check = await execa('promtool', ['check', 'config', join(out, 'prometheus.yml')], {reject: false})
    expect(check.exitCode, check.stdout + check.stderr).toBe(0)
    expect(check.stdout).toMatch(/SUCCESS: 4 rules found/)

    promPort = await freePort()
    room.spawn([
      'prometheus',
      `--config.file=${join(out, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(out, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ])
    const url = `http://127.0.0.1:${promPort}`
    // Until every target has been scraped once (the cut-off one times out after its 1 s interval).
    let rows: AttendeeRow[] = []
    const until = Date.now() + 45_000
    for (;;) {
      const r = await cli(['fleet', 'top', '--prometheus', url, '--once', '--json', '--stuck', '10'])
      if (r.exitCode === 0) {
        rows = (JSON.parse(r.stdout) as {rows: AttendeeRow[]}).rows
        if (rows.length === 6 && rows.some((x) => x.stuck) && rows.filter((x) => x.state === 'down').length === 3) break
      }
      if (Date.now() > until)
        throw new Error(`fleet top never showed the whole room: ${JSON.stringify(rows)} ${r.stderr}`)
      await new Promise((res) => setTimeout(res, 500))
    }
    const row = rowOf(rows)
    expect(row(vms.stuck)).toMatchObject(STUCK_ROW)
    expect(row(vms.busy)).toMatchObject({state: 'ok', lab: 2, step: 'attach', stuck: false})
    expect(row(vms.fresh).state).toBe('idle')
    expect(row(vms.nothing)).toMatchObject({state: 'down'})
    expect(row(vms.cutoff)).toMatchObject({state: 'down'})
    // The hung VM's node-exporter never ran: down as well.
    expect(row(vms.hangs)).toMatchObject({state: 'down'})

    // The recording rules, evaluated by Prometheus itself.
    const rule = async (q: string) => {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)
      return ((await res.json()) as {data: {result: Array<{metric: Record<string, string>; value: [number, string]}>}})
        .data.result
    }
    let stuck: Awaited<ReturnType<typeof rule>> = []
    for (
      const deadline = Date.now() + 20_000;
      Date.now() < deadline;
      await new Promise((res) => setTimeout(res, 500))
    ) {
      stuck = await rule('ebpfcni:attendees_stuck')
      if (stuck.length) break
    }
    expect(stuck.map((s) => [s.metric.lab, s.metric.step, s.value[1]])).toEqual([['1', 'add', '1']])
    const onStep = await rule('ebpfcni:attendees_on_step')
    expect(onStep.map((s) => `${s.metric.lab}/${s.metric.step}=${s.value[1]}`).sort()).toEqual([
      '1/add=1',
      '2/attach=1',
    ])

    const table = await cli(['fleet', 'top', '--prometheus', url, '--stuck', '10'])
    expect(table.exitCode, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/root@10\.\d+\.1\.2\s+lab 1 add\s+30 min\s+3\s+2\s+cni\.add\.ip\s+stuck/)
  }, 120_000)

  it('fleet top with no Prometheus there says so, exit 2', async () => {
    const r = await cli(['fleet', 'top', '--prometheus', `http://127.0.0.1:${await freePort()}`, '--once'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer \(ECONNREFUSED\)/)
  })

  it('fleet reset resets every VM and proves it with a dry run; what stays makes the host dirty and the exit 1', async () => {
    // busy's ledger holds a bridge (reset removes it); fresh's holds a "file" that is a
    // folder, which reset cannot remove: it stays, and the dry run afterwards says so.
    // (in busy's namespace: what its sshd runs, runs there, as on a VM of its own)
    const inBusy = (args: string[]) =>
      execa('nsenter', [`--net=/run/netns/${vms.busy.netns}`, ...args], {reject: false})
    await inBusy(['ip', 'link', 'add', dummy, 'type', 'bridge'])
    new Ledger(join(vms.busy.stateDir, 'ledger.json')).record('link', dummy, {lab: 1})
    const stubborn = join(t.dir, 'stubborn')
    mkdirSync(join(stubborn, 'inside'), {recursive: true})
    new Ledger(join(vms.fresh.stateDir, 'ledger.json')).record('file', stubborn, {lab: 1})
    const hosts = join(t.dir, 'reset-hosts.txt')
    writeFileSync(hosts, ['stuck', 'busy', 'fresh', 'nothing', 'hangs'].map((n) => `root@${vms[n].address}`).join('\n'))
    const r = await cli(['fleet', 'reset', hosts, '--json', '--progress', ...ssh()])
    expect(r.exitCode, r.stderr).toBe(1)
    const rows = (JSON.parse(r.stdout) as {rows: ResetRow[]}).rows
    const row = (n: string) => rows.find((x) => x.host === `root@${vms[n].address}`) as ResetRow
    expect(row('stuck')).toMatchObject({state: 'clean', removed: 0})
    expect(row('busy')).toMatchObject({state: 'clean', removed: 1})
    expect((await inBusy(['ip', 'link', 'show', dummy])).exitCode).not.toBe(0)
    expect(row('fresh').state).toBe('dirty')
    expect(row('fresh').left?.join()).toContain(stubborn)
    expect(row('nothing').state).toBe('down')
    expect(row('hangs').state).toBe('error')
    // --progress forgot the stuck attendee's progress.
    const again = await cli(['fleet', 'report', hosts, '--json', ...ssh()])
    const after = (JSON.parse(again.stdout) as {rows: AttendeeRow[]}).rows
    expect(after.find((x) => x.host === `root@${vms.stuck.address}`)?.state).toBe('idle')
    expect(existsSync(stubborn)).toBe(true)
  }, 90_000)
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as {port: number}).port
      s.close(() => resolve(port))
    })
  })
}
