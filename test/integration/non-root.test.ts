import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot, requireBuilt, requireRoot} from '../helpers/env.js'

// A user who is not root, wherever the checkout lives: under /root (readable by root only, where a
// newcomer clones as root) or somewhere anyone can read. setup installs the `ebpfcni` command with
// scripts/install-launcher.sh; these tests install it the same way, in a folder of their own.

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups']
const env = {CI: 'true', HOME: '/tmp', PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}
const installLauncher = (dest: string, checkout: string) =>
  execa('bash', [join(repoRoot, 'scripts/install-launcher.sh'), dest, checkout], {reject: false, timeout: 10_000})
const asNobody = (cmd: string, args: string[]) =>
  execa('setpriv', [...NOBODY, cmd, ...args], {reject: false, env, extendEnv: false, timeout: 60_000, stdin: 'ignore'})
const asRoot = (cmd: string, args: string[]) =>
  execa(cmd, args, {reject: false, env, extendEnv: false, timeout: 60_000, stdin: 'ignore'})

describe('as a user who is not root', () => {
  // rootOnly (0700, as /root is) holds "my checkout", a link to this checkout; shared (0755) holds
  // the launchers, as /usr/local/bin does. Spaces and a quote in the names: the launcher quotes the path.
  const rootOnly = mkdtempSync(join(tmpdir(), 'ebpfcni-nonroot-'))
  const shared = mkdtempSync(join(tmpdir(), 'ebpfcni-bin-'))
  const checkout = join(rootOnly, "my ebpfcni's checkout")
  const launcher = join(shared, 'ebpfcni')

  beforeAll(() => {
    requireRoot()
    requireBuilt()
    chmodSync(rootOnly, 0o700)
    chmodSync(shared, 0o755)
    symlinkSync(repoRoot, checkout)
  })
  afterAll(() => {
    rmSync(rootOnly, {recursive: true, force: true})
    rmSync(shared, {recursive: true, force: true})
  })

  it('the installed ebpfcni says "needs root" (exit 2) when only root can read the checkout; root runs it', async () => {
    const installed = await installLauncher(launcher, checkout)
    expect(installed.exitCode, installed.stderr).toBe(0)
    expect(statSync(launcher).mode & 0o777).toBe(0o755)
    expect(readFileSync(launcher, 'utf8')).toMatch(/^#!\/bin\/sh\n/)

    for (const args of [['pod', 'list'], ['status'], []]) {
      const r = await asNobody(launcher, args)
      expect(r.exitCode, `ebpfcni ${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(/^ebpfcni needs root: run it as root \(sudo -i\)$/m)
      expect(r.stderr).toContain(checkout)
      expect(r.stderr).not.toMatch(/Cannot find module|at .*\.js:\d+/)
    }
    // Root, through the same launcher, runs the CLI, arguments and exit codes passed through.
    const version = await asRoot(launcher, ['--version'])
    expect(version.exitCode, version.stderr).toBe(0)
    expect(version.stdout).toMatch(/^ebpfcni\/\d+\.\d+\.\d+ /)
    const wrong = await asRoot(launcher, ['check', '--no-such-flag'])
    expect(wrong.exitCode).toBe(2)
    expect(wrong.stderr).toMatch(/no-such-flag/)
  })

  it('a launcher that replaces the old symlink does not write through it; a broken install is named', async () => {
    // Older setups linked /usr/local/bin/ebpfcni to bin/run.js: installing must replace the link,
    // not overwrite the file it points to.
    const target = join(shared, 'run.js')
    mkdirSync(join(shared, 'old'), {recursive: true})
    const linkPath = join(shared, 'old', 'ebpfcni')
    const original = '#!/usr/bin/env node\n'
    writeFileSync(target, original)
    symlinkSync(target, linkPath)
    expect((await installLauncher(linkPath, checkout)).exitCode).toBe(0)
    expect(readFileSync(target, 'utf8')).toBe(original)
    expect(readFileSync(linkPath, 'utf8')).toContain('EBPFCNI_HOME=')

    // Broken: a folder that is not a checkout is refused, and nothing is installed.
    const notCheckout = await installLauncher(join(shared, 'never'), shared)
    expect(notCheckout.exitCode).toBe(2)
    expect(notCheckout.stderr).toMatch(/is not an ebpfcni checkout \(no bin\/run\.js\)/)
    expect(() => statSync(join(shared, 'never'))).toThrow()

    // Broken: the checkout moved after setup. Root is told to run setup again, not a node stack trace.
    unlinkSync(checkout)
    try {
      const r = await asRoot(launcher, ['status'])
      expect(r.exitCode).toBe(2)
      expect(r.stderr).toMatch(/bin\/run\.js is missing: run scripts\/setup\.sh again/)
      expect(r.stderr).not.toMatch(/Cannot find module|at .*\.js:\d+/)
    } finally {
      symlinkSync(repoRoot, checkout)
    }
  })

  it('where the checkout is readable, each command says whether it needs root', async () => {
    // The checkout, wherever it is, seen at a path anyone can reach: bind-mounted in a mount
    // namespace of this test's own (nothing on the host's mounts changes).
    const open = mkdtempSync(join(tmpdir(), 'ebpfcni-open-'))
    chmodSync(open, 0o755)
    const seen = join(open, 'ebpfcni')
    mkdirSync(seen)
    const inOpenCheckout = (args: string[]) =>
      execa(
        'unshare',
        [
          '--mount',
          '--propagation',
          'private',
          'sh',
          '-c',
          'mount --bind "$1" "$2" && shift 2 && exec setpriv "$@"',
          'sh',
          repoRoot,
          seen,
          ...NOBODY,
          join(open, 'launcher'),
          ...args,
        ],
        {reject: false, env, extendEnv: false, timeout: 60_000, stdin: 'ignore'},
      )
    try {
      // The launcher checks only that the checkout exists when installed: install it for `seen`
      // while the real checkout is linked there, then make `seen` a mount point again.
      rmSync(seen, {recursive: true})
      symlinkSync(repoRoot, seen)
      expect((await installLauncher(join(open, 'launcher'), seen)).exitCode).toBe(0)
      unlinkSync(seen)
      mkdirSync(seen)

      const r = await inOpenCheckout(['pod', 'list'])
      expect(r.exitCode, r.stderr).toBe(2)
      expect(r.stderr).toMatch(/ebpfcni pod list needs root: it changes host state/)
      expect(r.stderr).toMatch(/sudo/)
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
      // Reading progress and help need no root, and do not claim to.
      const status = await inOpenCheckout(['status'])
      expect(status.stderr).not.toMatch(/needs root/)
      expect(status.stdout).toMatch(/Lab 1 — The bridge CNI plugin/)
      const build = await inOpenCheckout(['bpf', 'build', '--help'])
      expect(build.exitCode, build.stderr).toBe(0)
    } finally {
      rmSync(open, {recursive: true, force: true})
    }
  })
})
