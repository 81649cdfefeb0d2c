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
  mapUpdate,
  perCpuSlots,
  valueBufferSize,
  MAP_TYPE,
  MAP_TYPES,
  type MapInfo,
} from '../../bpf/map-ops.js'
import {objGet} from '../../bpf/object.js'
import {keyToIpv4} from '../../bpf/counters.js'
import {BtfDecoder, display, jsonSafe} from '../../bpf/btf.js'
import {table} from '../../ui/render.js'
import {pinDirFlag} from '../../ui/bpf-flags.js'
import {resolvePin} from '../../bpf/programs.js'
import {UserError} from '../../host/errors.js'
import {isIPv4} from 'node:net'

// Maps with BTF are decoded by their types (struct fields by name, __be32 dotted). Without BTF,
// 4-byte keys are shown as IPv4 (the labs key by address, network order), 8-byte values as u64.
const decodeKey = (b: Buffer): string =>
  b.length === 4 ? keyToIpv4(b) : b.length === 8 ? `${keyToIpv4(b)} → ${keyToIpv4(b.subarray(4))}` : b.toString('hex')
const decodeValue = (b: Buffer): string =>
  b.length === 8 ? b.readBigUInt64LE().toString() : b.length === 4 ? String(b.readUInt32LE()) : b.toString('hex')

const isArray = (type: number): boolean => type === MAP_TYPE.ARRAY || type === MAP_TYPE.PERCPU_ARRAY

/** A per-CPU value: integers summed ("total (cpu0 + cpu1 …)"), anything else listed per CPU. */
function perCpuValue(value: Buffer, info: MapInfo, one: (v: Buffer) => unknown): unknown {
  const slots = perCpuSlots(value, info).map(one)
  const ints = slots.map((v) =>
    typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : typeof v === 'number' ? BigInt(v) : undefined,
  )
  if (ints.every((v) => v !== undefined)) return `${ints.reduce((a, b) => a! + b!, 0n)} (per CPU: ${ints.join(' + ')})`
  return slots
}

/** A key typed by the learner: IPv4 (network order), an address pair "a.b.c.d,e.f.g.h", or hex. */
export function parseKey(text: string, size: number): Buffer {
  const ip = (s: string): number[] | undefined => (isIPv4(s) ? s.split('.').map(Number) : undefined)
  const parts = text.split(',').map(ip)
  let b: Buffer | undefined
  if (parts.every(Boolean)) b = Buffer.from(parts.flat() as number[])
  else if (/^(0x)?[0-9a-f]+$/i.test(text)) b = Buffer.from(text.replace(/^0x/i, ''), 'hex')
  if (!b || b.length !== size)
    throw new UserError(`key "${text}" is not ${size} bytes`, {
      hint:
        size === 4
          ? 'give an IPv4 address like 10.10.0.5, or 8 hex digits'
          : size === 8
            ? 'give "SRC,DST" addresses or 16 hex digits'
            : `give ${size * 2} hex digits`,
    })
  return b
}

/** A value typed by the learner: an unsigned integer for 4- or 8-byte values, else hex. */
export function parseValue(text: string, size: number): Buffer {
  const b = Buffer.alloc(size)
  if (/^\d+$/.test(text) && (size === 8 || size === 4)) {
    const n = BigInt(text)
    if (n >= 1n << BigInt(size * 8))
      throw new UserError(`value ${text} does not fit the map's ${size}-byte value`, {
        hint: `the largest ${size}-byte value is ${(1n << BigInt(size * 8)) - 1n}`,
      })
    if (size === 8) b.writeBigUInt64LE(n)
    else b.writeUInt32LE(Number(n))
    return b
  }
  const hex = Buffer.from(text.replace(/^0x/i, ''), 'hex')
  if (hex.length !== size)
    throw new UserError(`value "${text}" is not ${size} bytes`, {
      hint: `give ${size * 2} hex digits${size === 8 || size === 4 ? ' or a decimal number' : ''}`,
    })
  return hex
}

export default class BpfMaps extends BaseCommand {
  static summary = 'List pinned maps, or dump one with decoded keys and values.'
  static description =
    "MAP is a pinned map: a path, or a name under --pin-dir. Maps are read through libbpf (batched where the kernel has it); keys and values are decoded from the map's BTF (struct fields by name, __be32 addresses dotted), per-CPU values summed. --key looks one entry up; with --set or --delete it writes."
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
          rows.map((r) => [
            r.pin,
            MAP_TYPES[r.type] ?? String(r.type),
            `${r.keySize} B`,
            `${r.valueSize} B`,
            String(r.maxEntries),
          ]),
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
        const value = isPerCpu(info.type) ? perCpuValue(v, info, decodeValue) : decodeValue(v)
        this.log(`${flags.key} = ${value}`)
        return {key: flags.key, value, valueHex: v.toString('hex')}
      }
      const btf = BtfDecoder.load(info.btfId)
      // A 4-byte hash key is an address in every lab map: dotted, whatever integer type declares it.
      const addressKey = info.keySize === 4 && !isArray(info.type)
      const keyOf = btf && info.btfKeyTypeId && !addressKey ? btf.decoder(info.btfKeyTypeId, info.name) : undefined
      const valueOf = btf && info.btfValueTypeId ? btf.decoder(info.btfValueTypeId) : undefined
      const one = (v: Buffer): unknown =>
        valueOf ? jsonSafe(valueOf(v, 0)) : decodeValue(v.subarray(0, info.valueSize))
      const entries = mapDump(fd, info).map((e) => ({
        key: keyOf ? jsonSafe(keyOf(e.key, 0)) : decodeKey(e.key),
        value: isPerCpu(info.type) ? perCpuValue(e.value, info, one) : one(e.value),
        keyHex: e.key.toString('hex'),
        valueHex: e.value.toString('hex'),
      }))
      btf?.close()
      this.log(
        table(
          ['KEY', 'VALUE'],
          entries.map((e) => [display(e.key as never), display(e.value as never)]),
        ),
      )
      this.log(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in ${pin}`)
      return {
        map: pin,
        type: MAP_TYPES[info.type] ?? info.type,
        keySize: info.keySize,
        valueSize: info.valueSize,
        entries,
      }
    } finally {
      closeFd(fd)
    }
  }
}
