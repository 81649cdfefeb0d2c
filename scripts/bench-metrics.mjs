#!/usr/bin/env node
// Exporter scrape benchmark (prints figures; not a test): a lab 3 counter map with 10,000
// sources, scraped through CounterExporter (map read + prom-client exposition) and over HTTP.
// Reference in the same run: the bare map read. Goal: a scrape under 50 ms. Root needed.
// Usage: node scripts/bench-metrics.mjs [--entries 10000] [--runs 30] [--percpu]
import {join, dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {rmSync, mkdirSync} from 'node:fs'
import {execa} from 'execa'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const arg = (n, d) => (process.argv.includes(`--${n}`) ? Number(process.argv[process.argv.indexOf(`--${n}`) + 1]) : d)
const N = arg('entries', 10000)
const RUNS = arg('runs', 30)
const PERCPU = process.argv.includes('--percpu')
const {closeFd} = await import(join(root, 'dist/bpf/ffi.js'))
const {objGet} = await import(join(root, 'dist/bpf/object.js'))
const {mapUpdate, valueBufferSize, mapInfo} = await import(join(root, 'dist/bpf/map-ops.js'))
const {readCounterMap} = await import(join(root, 'dist/bpf/counters.js'))
const {CounterExporter} = await import(join(root, 'dist/metrics/exporter.js'))
const {startMetricsServer} = await import(join(root, 'dist/metrics/server.js'))

const dir = `/sys/fs/bpf/ebpfcni-bench-metrics-${process.pid}`
const pin = join(dir, 'counter')
mkdirSync(dir, {recursive: true})
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]
const time = async (f) => {
  const t = performance.now()
  await f()
  return performance.now() - t
}
try {
  await execa('bpftool', [
    'map',
    'create',
    pin,
    'type',
    PERCPU ? 'percpu_hash' : 'hash',
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
  const key = Buffer.alloc(4)
  const value = Buffer.alloc(valueBufferSize(mapInfo(fd)))
  for (let i = 0; i < N; i++) {
    key.writeUInt32BE((10 << 24) | i)
    value.writeBigUInt64LE(BigInt(i))
    mapUpdate(fd, key, value)
  }
  closeFd(fd)
  // Every tenth source is a named pod, as with a few hundred pods.
  const names = new Map(Array.from({length: N / 10}, (_, i) => [`10.0.${(i * 10) >> 8}.${(i * 10) & 255}`, `pod-${i}`]))
  const fmt = (xs) => `p50 ${pct(xs, 0.5).toFixed(1)} ms, p95 ${pct(xs, 0.95).toFixed(1)} ms`
  console.log(`exporter scrape, ${N} sources (${PERCPU ? 'per-CPU hash' : 'hash'}), ${RUNS} runs each:`)
  const read = []
  for (let r = 0; r < RUNS; r++) read.push(await time(() => readCounterMap(pin)))
  console.log(`  map read alone (reference):                 ${fmt(read)}`)
  for (const compat of [false, true]) {
    const exporter = new CounterExporter({counterPin: pin, podNames: () => names, compat})
    const server = await startMetricsServer(exporter, {host: '127.0.0.1', port: 0})
    const scrape = [],
      http = []
    let lines = 0
    for (let r = 0; r < 3; r++) await exporter.scrape() // warm-up (JIT)
    for (let r = 0; r < RUNS; r++) {
      scrape.push(await time(async () => (lines = (await exporter.scrape()).text.split('\n').length)))
      http.push(await time(async () => (await fetch(server.url)).text()))
    }
    await server.close()
    const what = compat ? 'with --compat (2 families)' : 'default (1 family)'
    console.log(
      `  scrape ${what}, ${lines} lines: ${fmt(scrape)}  (goal < 50 ms; ${(pct(scrape, 0.5) / pct(read, 0.5)).toFixed(1)}x the read)`,
    )
    console.log(`  GET /metrics ${what}:        ${fmt(http)}`)
  }
} finally {
  rmSync(dir, {recursive: true, force: true})
}
