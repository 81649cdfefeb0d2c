import {chmodSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {runChecks} from '../../src/labs/checker.js'
import {Ledger} from '../../src/host/ledger.js'
import {ProgressStore} from '../../src/host/progress.js'
import {tempStateDir, requireRoot, requireBuilt, uniq} from './env.js'
import {hostSnapshot, deleteLinkQuietly} from './host.js'

/** A CNI bin dir as a Kubernetes node has it: with loopback, which containerd's CRI plugin runs for every pod. */
export function nodeBinDir(dir: string): void {
  mkdirSync(dir, {recursive: true})
  if (!existsSync(join(dir, 'loopback'))) symlinkSync('/usr/lib/cni/loopback', join(dir, 'loopback'))
}

/**
 * What every lab test needs: a private state dir, install targets, bridge, subnet and pin dir
 * (so a learner's own lab on the machine is untouched), workspaces, a check runner, and the
 * host snapshot to prove nothing is left.
 */
export function labHarness(lab: number, opts: {tag: string; subnet: string}) {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `${opts.tag}${id}`
  const pinDir = `/sys/fs/bpf/ebpfcni-${opts.tag}${id}`
  const targets = {cniBinDir: join(t.dir, 'bin'), cniConfDir: join(t.dir, 'net.d')}
  /** The config fields that keep this test's pods apart from everything else. */
  const isolate = {
    name: `ebpfcni${id}`,
    bridge,
    podcidr: opts.subnet,
    dataDir: join(t.dir, 'ipam'),
    xdpPin: join(pinDir, 'xdp_prog'),
  }
  const config = {cniVersion: '1.0.0', type: 'ebpfcni', ...isolate}
  let before: Awaited<ReturnType<typeof hostSnapshot>> | undefined

  const ledger = (): Ledger => new Ledger(join(t.dir, 'ledger.json'))
  return {
    t,
    id,
    bridge,
    pinDir,
    targets,
    config,
    isolate,
    ledger,
    /** A workspace holding these files (the plugin made executable) and the test's config. */
    workspace(name: string, files: Record<string, string>): string {
      const dir = join(t.dir, 'ws', name.replace(/\W+/g, '-'))
      mkdirSync(dir, {recursive: true})
      for (const [f, text] of Object.entries({'10-ebpfcni.conf': JSON.stringify(config), ...files}))
        writeFileSync(join(dir, f), text)
      chmodSync(join(dir, 'ebpfcni'), 0o755)
      return dir
    },
    check: (
      dir: string,
      step?: string,
      runtime: 'netns' | 'podman' | 'cri' = 'netns',
      onCheck?: Parameters<typeof runChecks>[0]['onCheck'],
    ) =>
      runChecks({
        lab,
        step,
        workspace: dir,
        targets,
        runtime,
        ledger: ledger(),
        progress: new ProgressStore(join(t.dir, 'progress.json')),
        timeoutMs: 3000,
        onCheck,
      }),
    /** Remove what a learner's plugin leaves by design (the bridge) and the pins. */
    async settle(): Promise<void> {
      await deleteLinkQuietly(bridge)
      rmSync(pinDir, {recursive: true, force: true})
    },
    async setup(): Promise<void> {
      requireRoot()
      requireBuilt()
      nodeBinDir(targets.cniBinDir)
      process.env.EBPFCNI_STATE_DIR = t.dir
      before = await hostSnapshot()
    },
    async teardown(): Promise<void> {
      await deleteLinkQuietly(bridge)
      rmSync(pinDir, {recursive: true, force: true})
      delete process.env.EBPFCNI_STATE_DIR
      t.cleanup()
    },
    /** The host as it was when setup() ran. */
    before: () => before!,
    snapshot: hostSnapshot,
  }
}
