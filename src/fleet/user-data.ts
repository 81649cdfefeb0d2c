import {stringify} from 'yaml'

// The fleet's VMs, provisioned by cloud-init (Debian 12's is 22.4): a #cloud-config that fetches the
// project and runs the same provisioning script the Vagrantfile runs (scripts/vagrant-provision.sh),
// with --room: setup, the doctor and smoke-test verdicts, the metrics timer, the login greeting.
// Commands are argument lists (cloud-init runs a list without a shell): nothing given here is
// ever spliced into a shell line.

export type ProjectSource = {git: string; ref?: string} | {tarball: string}

export interface UserDataOptions {
  source: ProjectSource
  /** Extra keys for the default user (the instructor's). */
  sshKeys?: string[]
  /** Where the project lives on the VM. */
  dir?: string
  /** An offline bundle already on the image (scripts/bundle.sh): setup fetches nothing. */
  bundle?: string
}

export const DEFAULT_DIR = '/opt/ebpfcni/src'

export function userData(o: UserDataOptions): string {
  const dir = o.dir ?? DEFAULT_DIR
  const fetch =
    'git' in o.source
      ? [['git', 'clone', '--depth', '1', ...(o.source.ref ? ['--branch', o.source.ref] : []), o.source.git, dir]]
      : [
          ['mkdir', '-p', dir],
          ['tar', '-xzf', o.source.tarball, '-C', dir, '--strip-components=1'],
        ]
  const config: Record<string, unknown> = {
    // cloud-init gives the keys (these and the cloud's) to the default user ("debian") and, with
    // Debian's disable_root: true, to root behind a command that refuses the login ("Please login
    // as the user debian", exit 142). The fleet commands log in as root, where ebpfcni and the
    // attendee's progress live: root gets the same keys, usable.
    disable_root: false,
    ...(o.sshKeys?.length ? {ssh_authorized_keys: o.sshKeys} : {}),
    ...('git' in o.source ? {packages: ['git'], package_update: true} : {}),
    runcmd: [
      ...fetch,
      ['bash', `${dir}/scripts/vagrant-provision.sh`, dir, '--room', ...(o.bundle ? ['--bundle', o.bundle] : [])],
    ],
    final_message: 'ebpfcni provisioned in $UPTIME s: the verdicts are in /var/lib/ebpfcni/room',
  }
  return `#cloud-config\n# Written by ebpfcni fleet user-data: paste it as each attendee VM's user-data.\n${stringify(config, {lineWidth: 0})}`
}
