import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {readFileSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireRoot, repoRoot} from '../helpers/env.js'

// The self-paced learner's VM runs scripts/vagrant-provision.sh (see Vagrantfile). There is no
// hypervisor here, so the script itself runs on this machine, as the VM would run it.

describe('Vagrant provisioning', () => {
  const t = tempStateDir()
  beforeAll(() => requireRoot())
  afterAll(() => t.cleanup())

  it('the Vagrantfile provisions a Debian 12 box (Debian 13 on request, arm64 hosts too) with scripts/vagrant-provision.sh from /vagrant', () => {
    const vf = readFileSync(join(repoRoot, 'Vagrantfile'), 'utf8')
    expect(vf).toMatch(/box = ENV\.fetch\("EBPFCNI_BOX", arm64_host \? "bento\/debian-12" : "debian\/bookworm64"\)/)
    expect(vf).toMatch(/config\.vm\.box = box/)
    // The comments name every box a learner may pick, and why.
    for (const box of ['debian/bookworm64', 'debian/trixie64', 'bento/debian-12', 'bento/debian-13'])
      expect(vf).toContain(box)
    expect(vf).toMatch(/Apple silicon/)
    expect(vf).toMatch(/provision "shell", path: "scripts\/vagrant-provision\.sh", args: \["\/vagrant"\]/)
  })

  it('runs setup on this machine, idempotently, and leaves a login greeting', async () => {
    const r = await execa('bash', [join(repoRoot, 'scripts/vagrant-provision.sh'), repoRoot, '--profile-dir', t.dir], {
      reject: false,
      timeout: 300_000,
    })
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/System packages .*\n\s+all present/)
    expect(r.stdout).toMatch(/Done\. Next: ebpfcni lab 1/)
    expect(r.stdout).toMatch(/provisioned: ebpfcni\/\d+\.\d+\.\d+/)
    const greet = readFileSync(join(t.dir, 'ebpfcni.sh'), 'utf8')
    expect(greet).toMatch(/Start with: ebpfcni lab 1/)
    expect((await execa('bash', ['-n', join(t.dir, 'ebpfcni.sh')], {reject: false})).exitCode).toBe(0)
    expect(existsSync('/usr/local/bin/ebpfcni')).toBe(true)
  }, 300_000)

  it('--room (what fleet user-data runs) also keeps the doctor and smoke-test verdicts and the metrics', async () => {
    const r = await execa(
      'bash',
      [join(repoRoot, 'scripts/vagrant-provision.sh'), repoRoot, '--profile-dir', t.dir, '--room'],
      {reject: false, timeout: 600_000, env: {EBPFCNI_STATE_DIR: join(t.dir, 'state')}},
    )
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/room: doctor true, smoke test true/)
    const room = join(t.dir, 'state', 'room')
    expect(JSON.parse(readFileSync(join(room, 'smoke.json'), 'utf8')).passed).toBe(true)
    const prom = readFileSync(join(room, 'ebpfcni.prom'), 'utf8')
    expect(prom).toMatch(/^ebpfcni_doctor_ok 1$/m)
    expect(prom).toMatch(/^ebpfcni_smoke_ok 1$/m)
  }, 600_000)

  it('refuses a path that is not the repository, with the reason', async () => {
    const r = await execa('bash', [join(repoRoot, 'scripts/vagrant-provision.sh'), t.dir], {
      reject: false,
      timeout: 10_000,
    })
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/no ebpfcni repository at/)
  })
})
