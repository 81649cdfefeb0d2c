import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireRoot, requireBuilt, cliRunner, uniq} from '../helpers/env.js'
import {SimulatedRoom, type SimulatedVm} from '../helpers/room.js'
import type {AttendeeRow} from '../../src/fleet/attendee.js'
import type {ResetRow} from '../../src/fleet/reset.js'

// How the instructor logs in to the room's VMs. cloud-init gives the key to the default user
// ("debian") and, with Debian's disable_root: true, to root behind a command that prints "Please
// login as the user "debian" rather than the user "root"." on stdout and exits 142. The fleet
// commands log in as root: a VM made that way is a row that quotes the VM's own words; a VM made
// with fleet user-data (disable_root: false: root gets the plain key) answers.

describe('the room: logging in as root', () => {
  const t = tempStateDir('ebpfcni-fleet-login-')
  const room = new SimulatedRoom(join(t.dir, 'room'), uniq().slice(0, 5), 93)
  const cli = cliRunner({...process.env, EBPFCNI_STATE_DIR: join(t.dir, 'state'), CI: 'true'} as Record<string, string>)
  const vms: Record<string, SimulatedVm> = {}
  const hosts = join(t.dir, 'hosts.txt')
  const ssh = () => ['-i', room.key, '--ssh-option', `UserKnownHostsFile=${room.knownHosts}`, '--timeout', '25']

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    await room.init()
    // The options cloud-init writes before root's keys when disable_root is true: its own string.
    const opts = await execa(
      'python3',
      [
        '-c',
        'import sys; sys.path.insert(0, "/usr/lib/python3/dist-packages"); from cloudinit import ssh_util; print(ssh_util.DISABLE_USER_OPTS)',
      ],
      {timeout: 30_000},
    )
    vms.stock = await room.addVm(1)
    vms.ours = await room.addVm(2)
    await room.startSshd(vms.stock, {
      keyOptions: opts.stdout.trim().replace('$USER', 'debian').replace('$DISABLE_USER', 'root'),
    })
    await room.startSshd(vms.ours)
    writeFileSync(hosts, `root@${vms.stock.address}\nroot@${vms.ours.address}\n`)
  }, 60_000)
  afterAll(async () => {
    await room.cleanup()
    t.cleanup()
  })

  it('fleet report: the VM that refuses root is an error row quoting what it printed; the VM fleet user-data made answers', async () => {
    const r = await cli(['fleet', 'report', hosts, '--json', ...ssh()])
    expect(r.exitCode, r.stderr).toBe(0)
    const rows = (JSON.parse(r.stdout) as {rows: AttendeeRow[]}).rows
    const row = (vm: SimulatedVm) => rows.find((x) => x.host === `root@${vm.address}`) as AttendeeRow
    expect(row(vms.stock).state).toBe('error')
    expect(row(vms.stock).message).toBe(
      'ebpfcni status --json exited 142: it printed "Please login as the user "debian" rather than the user "root"." ' +
        `(cloud-init's disable_root: the VM lets in only "debian"; fleet user-data's config lets root in with your key)`,
    )
    expect(row(vms.ours)).toMatchObject({state: 'idle', stuck: false})
    const text = await cli(['fleet', 'report', hosts, ...ssh()])
    expect(text.stdout).toMatch(
      /error\s+ebpfcni status --json exited 142: it printed "Please login as the user "debian"/,
    )
  }, 90_000)

  it('fleet reset says the same for that VM, and resets the other', async () => {
    const r = await cli(['fleet', 'reset', hosts, '--json', ...ssh()])
    expect(r.exitCode).toBe(1)
    const rows = (JSON.parse(r.stdout) as {rows: ResetRow[]}).rows
    expect(rows.find((x) => x.host === `root@${vms.stock.address}`)).toMatchObject({
      state: 'error',
      message: expect.stringMatching(
        /^ebpfcni reset --all --yes --json exited 142: it printed "Please login as the user "debian"/,
      ),
    })
    expect(rows.find((x) => x.host === `root@${vms.ours.address}`)).toMatchObject({state: 'clean'})
  }, 90_000)
})
