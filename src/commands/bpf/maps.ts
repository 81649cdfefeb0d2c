import {Args, Flags} from '@oclif/core'
import {readdirSync, statSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {BaseCommand} from '../../ui/base-command.js'
import {plainCommands} from '../../ui/same-as.js'
import {closeFd} from '../../bpf/ffi.js'
import {
  isPerCpu,
  mapDelete,
  mapDump,
  mapInfo,
  mapLookup,
  mapTypeName,
  mapUpdate,
  valueBufferSize,
  type MapInfo,
} from '../../bpf/map-ops.js'
import {objGet} from '../../bpf/object.js'
import {MapCodec, parseKey, parseValue} from '../../bpf/map-codec.js'
import {display, type Decoded} from '../../bpf/btf.js'
import {table} from '../../ui/render.js'
import {pinDirFlag} from '../../ui/bpf-flags.js'
import {resolvePin} from '../../bpf/programs.js'
import {UserError} from '../../host/errors.js'

export {parseKey, parseValue}

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
      if (!existsSync(flags['pin-dir'])) {
        this.log(`Nothing pinned under ${flags['pin-dir']} yet (ebpfcni bpf load FILE.o).`)
        return []
      }
      const rows: Array<MapInfo & {pin: string}> = []
      for (const f of readdirSync(flags['pin-dir'])) {
        const pin = join(flags['pin-dir'], f)
        if (!statSync(pin).isFile()) continue
        let fd = -1
        try {
          fd = objGet(pin)
          rows.push({...mapInfo(fd), pin})
        } catch {
          // a pinned program, not a map
        } finally {
          if (fd >= 0) closeFd(fd)
        }
      }
      this.log(
        table(
          ['PIN', 'TYPE', 'KEY', 'VALUE', 'MAX'],
          rows.map((r) => [r.pin, mapTypeName(r.type), `${r.keySize} B`, `${r.valueSize} B`, String(r.maxEntries)]),
        ),
      )
      return rows
    }
    const pin = resolvePin(args.map, flags['pin-dir'])
    if (!existsSync(pin)) throw new UserError(`${pin} is not pinned`, {hint: 'list what is: ebpfcni bpf maps'})
    if (!flags.key) this.sameAs(plainCommands.dumpMap(pin))
    const fd = objGet(pin)
    try {
      const info = mapInfo(fd)
      if (flags.key) {
        const key = parseKey(flags.key, info.keySize)
        if (flags.delete) {
          const deleted = mapDelete(fd, key)
          this.log(deleted ? `deleted ${flags.key}` : `${flags.key} was not in the map`)
          return {key: flags.key, deleted}
        }
        if (flags.set !== undefined) {
          if (isPerCpu(info.type))
            throw new UserError("--set on a per-CPU map is not supported (it would set every CPU's slot)")
          mapUpdate(fd, key, parseValue(flags.set, info.valueSize))
        }
        const v = mapLookup(fd, key, valueBufferSize(info))
        if (!v) {
          process.exitCode = 1
          this.log(`${flags.key}: not in the map`)
          return {key: flags.key, value: null}
        }
        const value = MapCodec.for(info).value(v)
        this.log(`${flags.key} = ${value}`)
        return {key: flags.key, value, valueHex: v.toString('hex')}
      }
      const codec = MapCodec.for(info)
      const entries = mapDump(fd, info).map((e) => codec.decode(e.key, e.value))
      this.log(
        table(
          ['KEY', 'VALUE', 'KEY BYTES'],
          entries.map((e) => [display(e.key as Decoded), display(e.value as Decoded), e.keyBytes]),
        ),
      )
      this.log(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in ${pin}`)
      return {
        map: pin,
        type: mapTypeName(info.type),
        keySize: info.keySize,
        valueSize: info.valueSize,
        entries,
      }
    } finally {
      closeFd(fd)
    }
  }
}
