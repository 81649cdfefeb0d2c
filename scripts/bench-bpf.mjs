#!/usr/bin/env node
// Map-read benchmark (prints figures; not a test): dump a 10,000-entry hash map through the
// koffi libbpf bindings (batched) vs `bpftool map dump -j` parsed in Node. Root needed.
// Usage: node scripts/bench-bpf.mjs [--entries 10000] [--runs 7]
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {rmSync, mkdirSync} from 'node:fs'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (n, d) => (process.argv.includes(`--${n}`) ? Number(process.argv[process.argv.indexOf(`--${n}`) + 1]) : d)
const N = arg('entries', 10000)
const RUNS = arg('runs', 7)
const {closeFd} = await import(join(root, 'dist/bpf/ffi.js'))
const {objGet} = await import(join(root, 'dist/bpf/object.js'))
const {mapInfo, mapDump, mapUpdate} = await import(join(root, 'dist/bpf/map-ops.js'))

const dir = `/sys/fs/bpf/ebpfcni-bench-${process.pid}`
const pin = join(dir, 'counter')
mkdirSync(dir, {recursive: true})
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
try {
  await execa('bpftool', [
    'map',
    'create',
    pin,
    'type',
    'hash',
    'key',
    '4',
    'value',
    '8',
    'entries',
    String(N),
    'name',
    'counter',
  ])
  const fd = objGet(pin)
  const key = Buffer.alloc(4),
    value = Buffer.alloc(8)
  for (let i = 0; i < N; i++) {
    key.writeUInt32BE((10 << 24) | i)
    value.writeBigUInt64LE(BigInt(i))
    mapUpdate(fd, key, value)
  }
  const info = mapInfo(fd)
  const koffiMs = [],
    bpftoolMs = []
  let a = 0,
    b = 0
  for (let r = 0; r < RUNS; r++) {
    let t = performance.now()
    a = mapDump(fd, info).length
    koffiMs.push(performance.now() - t)
    t = performance.now()
    const out = await execa('bpftool', ['map', 'dump', 'pinned', pin, '-j'], {maxBuffer: 256 * 1024 * 1024})
    b = JSON.parse(out.stdout).length
    bpftoolMs.push(performance.now() - t)
  }
  closeFd(fd)
  if (a !== N || b !== N) throw new Error(`entry counts differ: koffi ${a}, bpftool ${b}, expected ${N}`)
  const k = median(koffiMs),
    t = median(bpftoolMs)
  console.log(`map read, ${N} entries (hash, 4-byte key, 8-byte value), median of ${RUNS}:`)
  console.log(`  koffi bindings (batch lookup): ${k.toFixed(2)} ms`)
  console.log(`  bpftool map dump -j + JSON.parse: ${t.toFixed(2)} ms`)
  console.log(`  ratio bpftool/koffi: ${(t / k).toFixed(1)}x faster through the bindings (goal >= 10x)`)
} finally {
  rmSync(dir, {recursive: true, force: true})
}
