import {chmodSync, copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {repoRoot} from './env.js'

/** A CLI run as the policy tests make them: args in, exit code and output out. */
type Cli = (args: string[]) => Promise<{exitCode?: number; stdout: string; stderr: string}>

/**
 * A node for lab 4's policy commands, in a test's own dir: lab 2's plugin in DIR/bin, its config in
 * DIR/net.d on a private bridge and subnet, and lab 4's networkpolicy program built and pinned at
 * pinDir (where the plugin attaches xdp_prog). What the CLI tests of `policy` start from.
 */
export async function preparePolicyNode(
  cli: Cli,
  opts: {dir: string; name: string; bridge: string; podcidr: string; pinDir: string},
): Promise<{conf: string; binDir: string}> {
  const binDir = join(opts.dir, 'bin')
  const conf = join(opts.dir, 'net.d', '10-ebpfcni.conf')
  mkdirSync(binDir, {recursive: true})
  mkdirSync(join(opts.dir, 'net.d'), {recursive: true})
  copyFileSync(join(repoRoot, 'labs/02-ebpf-basics/solution/ebpfcni'), join(binDir, 'ebpfcni'))
  chmodSync(join(binDir, 'ebpfcni'), 0o755)
  writeFileSync(
    conf,
    JSON.stringify({
      cniVersion: '1.0.0',
      name: opts.name,
      type: 'ebpfcni',
      podcidr: opts.podcidr,
      bridge: opts.bridge,
      dataDir: join(opts.dir, 'ipam'),
      xdpPin: join(opts.pinDir, 'xdp_prog'),
    }),
  )
  await loadLab4Reference(cli, opts.dir, opts.pinDir)
  return {conf, binDir}
}

/** Lab 4's networkpolicy reference, built in DIR and loaded and pinned at pinDir; its object file. */
export async function loadLab4Reference(cli: Cli, dir: string, pinDir: string): Promise<string> {
  const object = join(dir, 'p.o')
  const source = join(repoRoot, 'labs/04-security-policy/solution/networkpolicy/ebpfcni.bpf.c')
  const built = await cli(['bpf', 'build', source, '-o', object])
  if (built.exitCode !== 0) throw new Error(`bpf build of lab 4's reference failed: ${built.stdout}${built.stderr}`)
  const loaded = await cli(['bpf', 'load', object, '--pin-dir', pinDir])
  if (loaded.exitCode !== 0) throw new Error(`bpf load of lab 4's reference failed: ${loaded.stdout}${loaded.stderr}`)
  return object
}

/**
 * What the observe tests watch: lab 4's reference pinned at pinDir, three labelled pods (app=web,
 * app=client, app=other; web serves, the others sleep) on Debian's bridge plugin with a private
 * bridge and subnet, and the web-from-client-80 NetworkPolicy applied. Returns the program's object file.
 */
export async function prepareObserveNode(
  cli: Cli,
  opts: {dir: string; name: string; bridge: string; subnet: string; pinDir: string; pods: [string, string, string]},
): Promise<void> {
  const conf = join(opts.dir, 'net.conflist')
  mkdirSync(join(opts.dir, 'ipam'), {recursive: true})
  const ipam = {type: 'host-local', ranges: [[{subnet: opts.subnet}]], dataDir: join(opts.dir, 'ipam')}
  writeFileSync(
    conf,
    JSON.stringify({
      cniVersion: '1.0.0',
      name: opts.name,
      plugins: [{type: 'bridge', bridge: opts.bridge, isGateway: true, ipam}],
    }),
  )
  const object = await loadLab4Reference(cli, opts.dir, opts.pinDir)
  const [web, client, other] = opts.pods
  const policy = join(repoRoot, 'test/fixtures/policies/web-from-client-80.yaml')
  for (const args of [
    ['pod', 'add', web, '--config', conf, '-l', 'app=web'],
    ['pod', 'add', client, '--config', conf, '-l', 'app=client', '--workload', 'sleep'],
    ['pod', 'add', other, '--config', conf, '-l', 'app=other', '--workload', 'sleep'],
    ['policy', 'apply', policy, '--pin-dir', opts.pinDir],
  ]) {
    const r = await cli(args)
    if (r.exitCode !== 0) throw new Error(`ebpfcni ${args.join(' ')} exited ${r.exitCode}: ${r.stdout}${r.stderr}`)
  }
  return object
}
