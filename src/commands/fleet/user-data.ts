import {Flags} from '#oclif'
import {BaseCommand} from '../../ui/base-command.js'
import {userData, DEFAULT_DIR} from '../../fleet/user-data.js'
import {UserError} from '../../host/errors.js'

export default class FleetUserData extends BaseCommand {
  static summary = 'The room: a #cloud-config that provisions an attendee VM and proves it.'
  static description = `Prints cloud-init user-data for Debian 12: fetch the project (a git URL, or a tarball already on the image), then run scripts/vagrant-provision.sh --room, the script the Vagrantfile runs: setup, the login greeting, ebpfcni doctor --json and lab all --auto --json kept in /var/lib/ebpfcni/room, Debian's prometheus-node-exporter (left running, serving :9100) and the timer that writes its ebpfcni metrics (fleet textfile). Paste it as each VM's user-data; --ssh-key adds the instructor's keys, for root as well as the default user (disable_root: false: the fleet commands log in as root); --bundle installs from an offline bundle on the image (scripts/bundle.sh) for a room with no network.`
  static examples = [
    '<%= config.bin %> fleet user-data --git https://git.example.org/ebpfcni.git --ref main',
    '<%= config.bin %> fleet user-data --tarball /root/ebpfcni.tgz --ssh-key "ssh-ed25519 AAAA… instructor"',
    '<%= config.bin %> fleet user-data --tarball /root/ebpfcni.tgz --bundle /root/ebpfcni-bundle.tar',
  ]
  static flags = {
    git: Flags.string({description: 'Clone the project from this URL.', exclusive: ['tarball']}),
    ref: Flags.string({description: 'With --git: the branch or tag.', dependsOn: ['git']}),
    tarball: Flags.string({description: 'Unpack the project from this tarball, already on the image.'}),
    'ssh-key': Flags.string({
      description: 'An SSH public key for root (how the fleet commands log in) and the default user (repeatable).',
      multiple: true,
    }),
    dir: Flags.string({description: 'Where the project goes on the VM.', default: DEFAULT_DIR}),
    bundle: Flags.string({
      description: 'Set up from this offline bundle, already on the image (scripts/bundle.sh): no network needed.',
      exclusive: ['git'],
    }),
  }
  protected requiresRoot = false

  async run(): Promise<void> {
    const {flags} = await this.parse(FleetUserData)
    if (!flags.git && !flags.tarball)
      throw new UserError('say where the project comes from: --git URL or --tarball PATH')
    for (const k of flags['ssh-key'] ?? [])
      if (!/^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp\d+|sk-\S+) \S+/.test(k))
        throw new UserError(`--ssh-key "${k.slice(0, 40)}" is not an SSH public key line`, {
          hint: 'as in ~/.ssh/id_ed25519.pub: "ssh-ed25519 AAAA… comment"',
        })
    process.stdout.write(
      userData({
        source: flags.git ? {git: flags.git, ref: flags.ref} : {tarball: flags.tarball as string},
        sshKeys: flags['ssh-key'],
        dir: flags.dir,
        bundle: flags.bundle,
      }),
    )
  }
}
