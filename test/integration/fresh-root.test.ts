import {describe, it, expect, beforeAll} from 'vitest'
import {execa} from 'execa'
import {join} from 'node:path'
import {requireRoot, repoRoot} from '../helpers/env.js'

// README command 1 on a machine with nothing on it: a debootstrapped Debian 12 root without Node,
// set up by scripts/setup.sh inside a chroot (scripts/test-fresh-root.sh does the work and cleans up).
describe('set-up on a fresh Debian 12 root', () => {
  beforeAll(() => requireRoot())

  it('setup.sh brings Node >= 20.17 itself, then ebpfcni --help and doctor --json work', async () => {
    const r = await execa('bash', [join(repoRoot, 'scripts/test-fresh-root.sh')], {
      reject: false,
      timeout: 1_500_000,
      all: true,
    })
    console.log(
      r.all
        ?.split('\n')
        .filter((l) => /^==>|fresh root|--- |no node|fetching|Node\.js|runcmd:|room:/.test(l.trim()))
        .join('\n'),
    )
    expect(r.exitCode, r.all).toBe(0)
    expect(r.all).toMatch(/no node on this machine/)
    expect(r.all).toMatch(/--- node: \/usr\/local\/bin\/node v22\./)
    expect(r.all).toMatch(/Workshop CLI: build a Kubernetes CNI plugin/)
    expect(r.all).toMatch(/--- doctor --json: \d+ items, exit [01]/)
    // The room's user-data ran: its runcmd, then vagrant-provision.sh --room's verdicts.
    expect(r.all).toMatch(/runcmd: 'bash' '\/opt\/ebpfcni\/src\/scripts\/vagrant-provision.sh' '\/opt\/ebpfcni\/src' '--room'/)
    expect(r.all).toMatch(/room: doctor true, smoke test (true|false)/)
    expect(r.all).toMatch(/--- room verdicts: .*doctor.json.*ebpfcni.prom.*smoke.json/)
    expect(r.all).not.toMatch(/command not found/)
  }, 1_600_000)
})
