import {Args, Flags} from '#oclif'
import chalk from 'chalk'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {dumpPinnedMap, pinnedMapKey, pinnedMapPath, pinnedMaps} from '../../bpf/pinned-maps.js'
import {mapDumpView, mapKeyLine, mapListView} from '../../ui/map-view.js'
import {pinDirFlag} from '../../ui/bpf-flags.js'
import {staleLoadWarning} from '../../ui/stale-load.js'
import {orphanedPinLines} from '../../bpf/map-users.js'
import {dirname, join} from 'node:path'
import {workspaceDir} from '../../host/paths.js'

export default class BpfMaps extends BaseCommand {
  static summary = 'List pinned maps, or dump one with decoded keys and values.'
  static description =
    "MAP is a pinned map: a path, or a name under --pin-dir. Maps are read through libbpf (batched where the kernel has it); keys and values are decoded from the map's BTF (struct fields by name; addresses dotted and ports in network order, as the labs' headers copy them from the packet), per-CPU values summed, and the key's raw bytes shown beside, one group per field, padding too (pad:…); rows that decode the same but differ in padding bytes are named. On stderr: a warning when the workspace's ebpfcni.bpf.c was saved after the programs were loaded, and a note for each pinned map no loaded program uses. --key looks one entry up; with --set or --delete it writes."
  static examples = [
    '<%= config.bin %> bpf maps',
    '<%= config.bin %> bpf maps counter',
    '<%= config.bin %> bpf maps /sys/fs/bpf/ebpfcni/counter --json',
    '<%= config.bin %> bpf maps counter --key 10.10.0.5',
  ]
  static enableJsonFlag = true
  static args = {map: Args.string({ignoreStdin: true, description: 'Pinned map: a path, or a name under --pin-dir.'})}
  static flags = {
    'pin-dir': pinDirFlag,
    key: Flags.string({description: 'Look up one key: an IPv4 address, "SRC,DST", or hex.'}),
    set: Flags.string({
      description: 'With --key: write this value (a number for 4/8-byte values, else hex).',
      exclusive: ['delete'],
      dependsOn: ['key'],
    }),
    delete: Flags.boolean({description: 'With --key: delete the entry.', dependsOn: ['key']}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(BpfMaps)
    if (!args.map) {
      const rows = pinnedMaps(flags['pin-dir'])
      if (!rows) {
        this.log(`Nothing pinned under ${flags['pin-dir']} yet (ebpfcni bpf load FILE.o).`)
        return []
      }
      this.log(mapListView(rows))
      await this.notes(flags['pin-dir'])
      return rows
    }
    const pin = pinnedMapPath(args.map, flags['pin-dir'])
    if (flags.key) {
      const result = pinnedMapKey(pin, flags.key, {set: flags.set, remove: flags.delete})
      if ('value' in result && result.value === null) process.exitCode = 1
      this.log(mapKeyLine(result))
      return result
    }
    this.sameAs(plainCommands.dumpMap(pin))
    const dump = dumpPinnedMap(pin)
    this.log(mapDumpView(dump))
    await this.notes(dirname(pin), pin)
    return dump
  }

  /** What makes the entries shown differ from what the source would write: a load older than the source, a map no program uses. */
  private async notes(pinDir: string, only?: string): Promise<void> {
    const stale = staleLoadWarning(pinDir)
    if (stale) this.logToStderr(stale)
    for (const line of await orphanedPinLines(pinDir, only, join(workspaceDir(), 'ebpfcni.bpf.o')))
      this.logToStderr(`${chalk.yellow('note:')} ${line}`)
  }
}
