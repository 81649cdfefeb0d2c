import {execa} from 'execa'
import {spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, writeFileSync, chmodSync} from 'node:fs'
import {join} from 'node:path'
import {createConnection} from 'node:net'
import {asStockDebian} from '../../scripts/stock-debian.mjs'

// Attendee VMs for the room's tests, made of what this machine has: each "VM" is a network
// namespace with its own address (10.95.N.2, reached over a veth from 10.95.N.1), its own ebpfcni
// state dir, and, as asked, Debian's sshd and prometheus-node-exporter listening on that address
// only. Nothing listens outside the namespaces; nothing is sent anywhere else.

export interface SimulatedVm {
  name: string
  netns: string
  address: string
  stateDir: string
  textfileDir: string
}

const SSHD = '/usr/sbin/sshd'
const NODE_EXPORTER = '/usr/bin/prometheus-node-exporter'

export class SimulatedRoom {
  readonly vms: SimulatedVm[] = []
  private readonly children: ChildProcess[] = []
  readonly key: string
  readonly knownHosts: string

  constructor(
    readonly dir: string,
    readonly tag: string,
    private readonly subnetBase = 95,
  ) {
    this.key = join(dir, 'id_ed25519')
    this.knownHosts = join(dir, 'known_hosts')
  }

  /** The instructor's key, and a host key every VM shares (a fresh one per test run). */
  async init(): Promise<void> {
    for (const tool of [SSHD, NODE_EXPORTER, '/usr/bin/ssh', '/usr/bin/prometheus'])
      if ((await execa('test', ['-x', tool], {reject: false})).exitCode !== 0)
        throw new Error(
          `${tool} is missing: bash scripts/setup.sh --test-tools installs openssh-server, prometheus-node-exporter and prometheus`,
        )
    mkdirSync(this.dir, {recursive: true})
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', this.key])
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(this.dir, 'host_key')])
    writeFileSync(this.knownHosts, '')
    mkdirSync('/run/sshd', {recursive: true, mode: 0o755})
  }

  async addVm(n: number): Promise<SimulatedVm> {
    const name = `vm${n}`
    const netns = `efl${this.tag}${n}`
    const hostSide = `efl${this.tag}${n}h`
    const address = `10.${this.subnetBase}.${n}.2`
    const vm: SimulatedVm = {
      name,
      netns,
      address,
      stateDir: join(this.dir, name, 'state'),
      textfileDir: join(this.dir, name, 'textfile'),
    }
    mkdirSync(vm.stateDir, {recursive: true})
    mkdirSync(vm.textfileDir, {recursive: true})
    this.vms.push(vm)
    await execa('ip', ['netns', 'add', netns])
    await execa('ip', ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns])
    await execa('ip', ['addr', 'add', `10.${this.subnetBase}.${n}.1/24`, 'dev', hostSide])
    await execa('ip', ['link', 'set', hostSide, 'up'])
    const inNs = (args: string[]) => execa('nsenter', [`--net=/run/netns/${netns}`, ...args])
    await inNs(['ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
    await inNs(['ip', 'link', 'set', 'eth0', 'up'])
    await inNs(['ip', 'link', 'set', 'lo', 'up'])
    return vm
  }

  /**
   * sshd on the VM's address; its sessions see the VM's own state dir. `forceCommand`: a VM that
   * misbehaves. `keyOptions`: the options before the instructor's key in the VM's authorized_keys
   * (cloud-init writes a command= there for root when disable_root is true).
   */
  async startSshd(vm: SimulatedVm, o: {forceCommand?: string; keyOptions?: string} = {}): Promise<void> {
    const authorized = join(this.dir, o.keyOptions ? `${vm.name}-authorized_keys` : 'authorized_keys')
    const key = (await execa('cat', [`${this.key}.pub`], {timeout: 10_000})).stdout
    writeFileSync(authorized, `${o.keyOptions ? `${o.keyOptions} ` : ''}${key}\n`)
    chmodSync(authorized, 0o600)
    const config = join(this.dir, vm.name, 'sshd_config')
    writeFileSync(
      config,
      [
        `ListenAddress ${vm.address}:22`,
        `HostKey ${join(this.dir, 'host_key')}`,
        `AuthorizedKeysFile ${authorized}`,
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'StrictModes no',
        'UsePAM no',
        'PidFile none',
        // (and a test shard's own cgroup for lab 6's runs: scripts/private-host.sh)
        `SetEnv EBPFCNI_STATE_DIR=${vm.stateDir} EBPFCNI_WORKSPACE=${join(this.dir, vm.name, 'workspace')}${
          process.env.EBPFCNI_CGROUP_PARENT ? ` EBPFCNI_CGROUP_PARENT=${process.env.EBPFCNI_CGROUP_PARENT}` : ''
        }`,
        ...(o.forceCommand ? [`ForceCommand ${o.forceCommand}`] : []),
        '',
      ].join('\n'),
    )
    this.spawnIn(vm, [SSHD, '-D', '-e', '-f', config])
    await this.waitForPort(vm.address, 22)
  }

  async startNodeExporter(vm: SimulatedVm): Promise<void> {
    this.spawnIn(vm, [
      NODE_EXPORTER,
      `--web.listen-address=${vm.address}:9100`,
      '--collector.disable-defaults',
      '--collector.textfile',
      `--collector.textfile.directory=${vm.textfileDir}`,
    ])
    await this.waitForPort(vm.address, 9100)
  }

  /** Take a VM off the network: its link goes down, so connections time out (not refused). */
  async cutOff(vm: SimulatedVm): Promise<void> {
    await execa('nsenter', [`--net=/run/netns/${vm.netns}`, 'ip', 'link', 'set', 'eth0', 'down'])
  }

  spawn(args: string[]): ChildProcess {
    const child = spawn(args[0], args.slice(1), {stdio: ['ignore', 'ignore', 'pipe']})
    child.stderr?.resume()
    this.children.push(child)
    return child
  }

  /** A VM's process: in its netns, as stock Debian runs it (scripts/stock-debian.mjs). */
  private spawnIn(vm: SimulatedVm, args: string[]): ChildProcess {
    return this.spawn(asStockDebian(['nsenter', `--net=/run/netns/${vm.netns}`, ...args]))
  }

  async waitForPort(host: string, port: number, timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs
    for (;;) {
      const open = await new Promise<boolean>((resolve) => {
        const s = createConnection({host, port})
        s.once('connect', () => (s.destroy(), resolve(true)))
        s.once('error', () => resolve(false))
      })
      if (open) return
      if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL')
    await Promise.all(
      this.children.map((c) =>
        c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined,
      ),
    )
    for (const vm of this.vms) {
      // What sshd's sessions started (the hung VM's `sleep 600`) outlives sshd: kill what the VM runs.
      const pids = (await execa('ip', ['netns', 'pids', vm.netns], {reject: false})).stdout.split(/\s+/).filter(Boolean)
      if (pids.length) await execa('kill', ['-KILL', ...pids], {reject: false})
      await execa('ip', ['link', 'del', `${vm.netns}h`], {reject: false})
      await execa('ip', ['netns', 'del', vm.netns], {reject: false})
    }
  }
}
