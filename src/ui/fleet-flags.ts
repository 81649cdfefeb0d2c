import {Args, Flags} from '#oclif'
import {readFileSync} from 'node:fs'
import {UserError} from '../host/errors.js'
import {readHostListFile, type HostList} from '../fleet/hosts.js'
import type {FleetOptions} from '../fleet/ssh.js'

// What every `fleet` command that reaches the fleet's VMs takes: the host list and how to SSH.

export const hostsArg = Args.string({
  required: true,
  ignoreStdin: true,
  description:
    'A file of hosts: one [user@]host[:port] per line (# comments), `terraform output -json`, or `vagrant ssh-config`.',
})

export const sshFlags = {
  identity: Flags.string({char: 'i', description: 'The SSH private key to use (default: your ssh config and agent).'}),
  user: Flags.string({description: 'The SSH user when a host line names none.', default: 'root'}),
  'ssh-option': Flags.string({
    description: 'An ssh -o option, KEY=VALUE (repeatable): UserKnownHostsFile=…, ProxyJump=….',
    multiple: true,
  }),
  concurrency: Flags.integer({char: 'j', description: 'Hosts asked at once.', default: 64, min: 1, max: 256}),
  timeout: Flags.integer({description: 'Seconds one host may take, connection included.', default: 30, min: 1}),
  'connect-timeout': Flags.integer({description: 'Seconds for the connection and SSH handshake.', default: 8, min: 1}),
  remote: Flags.string({description: 'The ebpfcni command on the VMs.', default: 'ebpfcni'}),
}

export interface SshFlagValues {
  identity?: string
  user: string
  'ssh-option'?: string[]
  concurrency: number
  timeout: number
  'connect-timeout': number
  remote: string
}

export function fleetOptions(f: SshFlagValues): FleetOptions {
  for (const o of f['ssh-option'] ?? [])
    if (!/^[A-Za-z]+=\S.*$/.test(o))
      throw new UserError(`--ssh-option "${o}" is not KEY=VALUE`, {
        hint: 'as in: --ssh-option UserKnownHostsFile=/root/room_known_hosts',
      })
  if (!/^[\w./-]+$/.test(f.remote)) throw new UserError(`--remote "${f.remote}" is not a command path`)
  return {
    identity: f.identity,
    user: f.user,
    options: f['ssh-option'],
    concurrency: f.concurrency,
    timeoutMs: f.timeout * 1000,
    connectTimeoutS: Math.min(f['connect-timeout'], f.timeout),
    remoteCommand: f.remote,
  }
}

/** The host list, or a usage error when it cannot be read or holds no host. */
export function loadHostList(path: string): HostList {
  let list: HostList
  try {
    list = readHostListFile(path, (p) => readFileSync(p, 'utf8'))
  } catch (e) {
    throw new UserError((e as Error).message, {hint: 'one host per line: 10.0.0.5, root@vm-07, vm-08.example:2222'})
  }
  if (list.hosts.length === 0)
    throw new UserError(`${path} names no host (${list.problems.length} line(s) were not hosts)`, {
      hint: list.problems[0] ? `line ${list.problems[0].line}: ${list.problems[0].message}` : 'one host per line',
    })
  return list
}
