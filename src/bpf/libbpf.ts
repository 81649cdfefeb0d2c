import {createRequire} from 'node:module'

// The system's libbpf.so.1 through koffi. Loaded lazily: commands that never touch BPF
// (help, status) must not pay for it.
const require = createRequire(import.meta.url)

type KoffiLib = {func: (sig: string) => (...args: unknown[]) => unknown}
let lib: KoffiLib | undefined

export function libbpf(): KoffiLib {
  if (!lib) {
    const koffi = require('koffi') as {load: (name: string) => KoffiLib}
    lib = koffi.load('libbpf.so.1')
  }
  return lib
}

export function libbpfVersion(): string {
  const l = libbpf()
  const major = l.func('uint32_t libbpf_major_version(void)')() as number
  const minor = l.func('uint32_t libbpf_minor_version(void)')() as number
  return `${major}.${minor}`
}
