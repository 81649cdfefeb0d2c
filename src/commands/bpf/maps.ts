import {Args, Flags} from '#oclif'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {dumpPinnedMap, pinnedMapKey, pinnedMapPath, pinnedMaps} from '../../bpf/pinned-maps.js'
import {mapDumpView, mapKeyLine, mapListView} from '../../ui/map-view.js'
import {pinDirFlag} from '../../ui/bpf-flags.js'

export default class BpfMaps extends BaseCommand {
  static summary = 'List pinned maps, or dump one with decoded keys and values.'
  static description =
    "MAP is a pinned map: a path, or a name under --pin-dir. Maps are read through libbpf (batched where the kernel has it); keys and values are decoded from the map's BTF (struct fields by name; addresses dotted and ports in network order, as the labs' headers copy them from the packet), per-CPU values summed, and the key's raw bytes shown beside, one group per field. --key looks one entry up; with --set or --delete it writes."
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
    return dump
  }
}
