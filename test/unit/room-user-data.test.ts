import {describe, it, expect, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'
import {userData} from '../../src/room/user-data.js'
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
