import {describe, it, expect, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {userData} from '../../src/fleet/user-data.js'
import {cliRunner} from '../helpers/env.js'

// `fleet user-data`: what an instructor pastes is valid for Debian 12's cloud-init (its own schema
// check), runs the provisioning script the Vagrantfile runs, and never splices input into a shell.

const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-userdata-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

async function schema(text: string): Promise<{ok: boolean; said: string}> {
  if (!existsSync('/usr/bin/cloud-init'))
    throw new Error("cloud-init is missing: bash scripts/setup.sh --test-tools installs Debian's cloud-init")
  const f = join(tmp, `ud-${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(f, text)
  const r = await execa('cloud-init', ['schema', '--config-file', f], {reject: false, timeout: 60_000})
  return {ok: r.exitCode === 0, said: r.stdout + r.stderr}
}

describe('fleet user-data', () => {
  it("from git: cloud-init's schema accepts it; it clones, then runs vagrant-provision.sh --room", async () => {
    const text = userData({
      source: {git: 'https://git.example.org/ebpfcni.git', ref: 'v1'},
      sshKeys: ['ssh-ed25519 AAAA x'],
    })
    expect(text.startsWith('#cloud-config\n')).toBe(true)
    const r = await schema(text)
    expect(r.ok, r.said).toBe(true)
    const c = parse(text) as {runcmd: string[][]; packages: string[]; ssh_authorized_keys: string[]}
    expect(c.runcmd).toEqual([
      ['git', 'clone', '--depth', '1', '--branch', 'v1', 'https://git.example.org/ebpfcni.git', '/opt/ebpfcni/src'],
      ['bash', '/opt/ebpfcni/src/scripts/vagrant-provision.sh', '/opt/ebpfcni/src', '--room'],
    ])
    expect(c.packages).toEqual(['git'])
    expect(c.ssh_authorized_keys).toEqual(['ssh-ed25519 AAAA x'])
  })

  it("the instructor's key lets root in: cloud-init's own code gives root the key with no refusing command", async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE instructor'
    // cloud-init's cc_ssh.apply_credentials, as it runs on the VM, with the key writer recording
    // what each user's authorized_keys would get (the default user is Debian's "debian").
    const placed = async (config: Record<string, unknown>) => {
      const script = [
        'import json, sys',
        'sys.path.insert(0, "/usr/lib/python3/dist-packages")',
        'from cloudinit import ssh_util',
        'from cloudinit.config import cc_ssh',
        'cfg = json.loads(sys.argv[1])',
        'seen = {}',
        'def record(keys, user, options=None): seen[user] = {"keys": sorted(keys), "options": options or ""}',
        'ssh_util.setup_user_keys = record',
        'opts = cfg.get("disable_root_opts", ssh_util.DISABLE_USER_OPTS)',
        'cc_ssh.apply_credentials(cfg.get("ssh_authorized_keys", []), "debian", cfg.get("disable_root", True), opts)',
        'print(json.dumps(seen))',
      ].join('\n')
      const r = await execa('python3', ['-c', script, JSON.stringify(config)], {reject: false, timeout: 30_000})
      expect(r.exitCode, r.stderr).toBe(0)
      return JSON.parse(r.stdout) as Record<string, {keys: string[]; options: string}>
    }
    const ours = await placed(parse(userData({source: {tarball: '/root/e.tgz'}, sshKeys: [key]})))
    expect(ours.root).toEqual({keys: [key], options: ''})
    expect(ours.debian.keys).toEqual([key])
    // Without disable_root: false (Debian's cloud.cfg says true), root's key runs cloud-init's refusal.
    const stock = await placed({ssh_authorized_keys: [key]})
    expect(stock.root.options).toContain('Please login as the user \\"debian\\" rather than the user \\"root\\".')
    expect(stock.root.options).toContain('exit 142')
  })

  it('from git: its clone command, run as cloud-init runs it, fetches the tag it names', async () => {
    // A repository of our own (file://), tagged v1 and then moved on: the clone must be v1's.
    const repo = join(tmp, 'origin')
    const git = (args: string[], cwd = repo) =>
      execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], {cwd, timeout: 30_000})
    mkdirSync(join(repo, 'scripts'), {recursive: true})
    await git(['init', '-q'])
    writeFileSync(join(repo, 'scripts/vagrant-provision.sh'), 'echo v1\n')
    await git(['add', '-A'])
    await git(['commit', '-q', '-m', 'v1'])
    await git(['tag', 'v1'])
    writeFileSync(join(repo, 'scripts/vagrant-provision.sh'), 'echo v2\n')
    await git(['commit', '-q', '-am', 'v2'])
    const dir = join(tmp, 'vm-src')
    const c = parse(userData({source: {git: `file://${repo}`, ref: 'v1'}, dir})) as {runcmd: string[][]}
    const [cmd, ...args] = c.runcmd[0]
    const r = await execa(cmd, args, {reject: false, timeout: 60_000})
    expect(r.exitCode, r.stderr).toBe(0)
    expect(readFileSync(join(dir, 'scripts/vagrant-provision.sh'), 'utf8')).toBe('echo v1\n')
    expect(c.runcmd[1]).toEqual(['bash', `${dir}/scripts/vagrant-provision.sh`, dir, '--room'])
  })

  it('from a tarball on the image, with a path that would break a shell line: still one argument each', async () => {
    const text = userData({source: {tarball: '/root/my src; rm -rf /.tgz'}})
    expect((await schema(text)).ok).toBe(true)
    const c = parse(text) as {runcmd: string[][]; packages?: string[]}
    expect(c.runcmd[1]).toEqual([
      'tar',
      '-xzf',
      '/root/my src; rm -rf /.tgz',
      '-C',
      '/opt/ebpfcni/src',
      '--strip-components=1',
    ])
    expect(c.packages).toBeUndefined()
  })

  it('with an offline bundle on the image: provisioning passes it to setup (vagrant-provision.sh --bundle)', async () => {
    const text = userData({source: {tarball: '/root/e.tgz'}, bundle: '/root/ebpfcni-bundle.tar'})
    expect((await schema(text)).ok).toBe(true)
    const c = parse(text) as {runcmd: string[][]; packages?: string[]}
    expect(c.runcmd[2]).toEqual([
      'bash',
      '/opt/ebpfcni/src/scripts/vagrant-provision.sh',
      '/opt/ebpfcni/src',
      '--room',
      '--bundle',
      '/root/ebpfcni-bundle.tar',
    ])
    expect(c.packages).toBeUndefined()
  })

  it("the schema check can fail: a broken config is refused by cloud-init's own check", async () => {
    expect((await schema('#cloud-config\nruncmd: 5\n')).ok).toBe(false)
  })

  it('the command: needs a source; refuses a key that is not one; prints the config', async () => {
    const cli = cliRunner({EBPFCNI_STATE_DIR: tmp, CI: 'true'})
    expect((await cli(['fleet', 'user-data'])).stderr).toMatch(/--git URL or --tarball PATH/)
    expect((await cli(['fleet', 'user-data', '--git', 'x', '--ssh-key', 'hello'])).stderr).toMatch(
      /is not an SSH public key/,
    )
    const ok = await cli(['fleet', 'user-data', '--tarball', '/root/e.tgz'])
    expect(ok.exitCode, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^#cloud-config\n/)
  })
})
