import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {existsSync, readFileSync, statSync, writeFileSync, copyFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, repoRoot, uniq, cliRunner} from '../helpers/env.js'
import {hostSnapshot} from '../helpers/host.js'
import {clockTime} from '../../src/ui/stale-load.js'

// What a lab 3 walk found (issue 32, walk-k), through bin/run.js as an attendee types it: the map
// renamed couter (it compiles), a source saved but not reloaded, a struct key with unzeroed padding.
// Uses /sys/fs/bpf/ebpfcni (topology and check read it): run in a private host or under the host lock.

const PIN_ROOT = '/sys/fs/bpf/ebpfcni'
const COUNTER = join(PIN_ROOT, 'counter')
const renamed = (src: string): string =>
  src.replace(/\bcounter\b(?= SEC\(|,)/g, 'couter').replace(/&counter\b/g, '&couter')

describe('CLI: what looks at counts says when they are not what the source would count', () => {
  const t = tempStateDir()
  const ws = join(t.dir, 'ws')
  const fixPins = `/sys/fs/bpf/ebpfcni-pad${uniq()}`
  const env = {EBPFCNI_STATE_DIR: join(t.dir, 'state'), EBPFCNI_WORKSPACE: ws, CI: 'true'}
  const cli = cliRunner(env, 90_000)
  const source = readFileSync(join(repoRoot, 'labs/03-maps-monitoring/solution/counter/ebpfcni.bpf.c'), 'utf8')
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    if (existsSync(PIN_ROOT))
      throw new Error(`${PIN_ROOT} exists: run this test in a private host (dev-N) or after ebpfcni reset`)
    before = await hostSnapshot()
    const {mkdirSync} = await import('node:fs')
    mkdirSync(ws, {recursive: true})
    writeFileSync(join(ws, 'ebpfcni.bpf.c'), source)
    copyFileSync(join(repoRoot, 'labs/02-ebpf-basics/solution/ebpfcni'), join(ws, 'ebpfcni'))
    copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/10-ebpfcni.conf'), join(ws, '10-ebpfcni.conf'))
  })
  afterAll(async () => {
    await cli(['reset', '--yes'])
    t.cleanup()
    expect(existsSync(PIN_ROOT)).toBe(false)
    expect(existsSync(fixPins)).toBe(false)
    expect(await hostSnapshot()).toEqual(before)
  })

  it('a source saved after the load: bpf maps, metrics --once and topology warn, with the load time as date prints it', async () => {
    for (const args of [
      ['bpf', 'build'],
      ['bpf', 'load', '--replace'],
    ]) {
      const r = await cli(args)
      expect(r.exitCode, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
    }
    expect((await cli(['bpf', 'maps', 'counter', '--key', '10.10.0.9', '--set', '3'])).exitCode).toBe(0)
    // Nothing edited since the load: no warning.
    expect((await cli(['bpf', 'maps'])).stderr).not.toMatch(/older code/)
    const loadedAt = clockTime(statSync(join(PIN_ROOT, 'xdp_prog')).mtime)
    await new Promise((r) => setTimeout(r, 20))
    writeFileSync(join(ws, 'ebpfcni.bpf.c'), `${source}\n// edited\n`)
    const warning = `${join(ws, 'ebpfcni.bpf.c')} was saved after the programs in ${PIN_ROOT} were loaded (${loadedAt}): what runs is the older code`
    for (const args of [['bpf', 'maps'], ['bpf', 'maps', 'counter'], ['metrics', '--once'], ['topology']]) {
      const r = await cli(args)
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      expect(r.stderr, args.join(' ')).toContain(warning)
      expect(r.stderr).not.toMatch(/\d (AM|PM)\)/)
    }
    // metrics --once keeps stdout the exposition, and rounds the scrape's duration.
    const scrape = await cli(['metrics', '--once'])
    expect(scrape.stdout).not.toMatch(/warning/)
    expect(scrape.stdout).toMatch(/^ebpfcni_packets_total\{source_addr="10\.10\.0\.9",pod=""\} 3$/m)
    expect(scrape.stdout).toMatch(/^ebpfcni_scrape_duration_seconds \d+(\.\d{1,6})?$/m)
  })

  it('the map renamed couter and reloaded: bpf maps and metrics name the pin no program uses, and what the programs use', async () => {
    writeFileSync(join(ws, 'ebpfcni.bpf.c'), renamed(source))
    for (const args of [
      ['bpf', 'build'],
      ['bpf', 'load', '--replace'],
    ]) {
      const r = await cli(args)
      expect(r.exitCode, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(0)
    }
    const orphan = `no loaded program uses ${COUNTER}: no packet changes it any more; the programs pinned in ${PIN_ROOT} (xdp_prog) use couter`
    const list = await cli(['bpf', 'maps'])
    expect(list.stdout).toMatch(/\/couter\s+hash/)
    expect(list.stderr).toContain(orphan)
    expect(list.stderr).not.toMatch(/older code/)
    const scrape = await cli(['metrics', '--once'])
    expect(scrape.exitCode, scrape.stderr).toBe(0)
    expect(scrape.stderr).toContain(orphan)
    expect(scrape.stdout).toMatch(/^ebpfcni_map_up 1$/m)
    // The map in use has no such note.
    expect((await cli(['bpf', 'maps', 'couter'])).stderr).not.toMatch(/no loaded program uses/)
  })

  it('check 3 --step metrics with the map named couter: the summary says what blocks it, not "0 failing"', async () => {
    const r = await cli(['check', '3', '--step', 'metrics'])
    expect(r.exitCode, r.stdout).toBe(1)
    expect(r.stdout).toMatch(/needs a map named counter \(map\.counter\.pinned\)/)
    expect(r.stdout).toMatch(
      /✘ lab 3, step metrics: blocked by map\.counter\.pinned \(step counter\): your program has no map named counter; its maps: couter\. 2 checks skipped; for that step: ebpfcni check 3 --step counter/,
    )
    expect(r.stdout).not.toMatch(/0 failing/)
    const json = JSON.parse((await cli(['check', '3', '--step', 'metrics', '--json'])).stdout) as {
      passed: boolean
      earlierStepFails?: {step: string; check: string; message: string}
    }
    expect(json.passed).toBe(false)
    expect(json.earlierStepFails).toEqual({
      step: 'counter',
      check: 'map.counter.pinned',
      message: 'your program has no map named counter; its maps: couter',
    })
  }, 120_000)

  it('bpf maps shows padding bytes and names keys that differ only in them (lab 3 source key, lab 4 rule key)', async () => {
    const obj = join(t.dir, 'padded.o')
    expect(
      (await cli(['bpf', 'build', join(repoRoot, 'test/fixtures/bpf/padded_keys.bpf.c'), '-o', obj])).exitCode,
    ).toBe(0)
    expect((await cli(['bpf', 'load', obj, '--pin-dir', fixPins])).exitCode).toBe(0)
    const pin = ['--pin-dir', fixPins]
    // One source, tcp, once with garbage in the 3 padding bytes, once zeroed: two keys.
    for (const [key, n] of [
      ['0a0a0002067f0000', '4'],
      ['0a0a000206000000', '1'],
      ['0a0a000311000000', '2'],
    ])
      expect((await cli(['bpf', 'maps', 'by_source', '--key', key, '--set', n, ...pin])).exitCode).toBe(0)
    const src = await cli(['bpf', 'maps', 'by_source', ...pin])
    expect(src.stdout).toMatch(/saddr=10\.10\.0\.2 proto=tcp\s+4\s+0a0a0002 06 pad:7f0000/)
    expect(src.stdout).toMatch(/saddr=10\.10\.0\.2 proto=tcp\s+1\s+0a0a0002 06 pad:000000/)
    expect(src.stdout).toContain(
      'keys differ only in padding bytes: saddr=10.10.0.2 proto=tcp (2 keys). Zero the key (`= {}` or __builtin_memset) before filling it',
    )
    expect(src.stdout).not.toMatch(/10\.10\.0\.3.*\(2 keys\)/)
    // Lab 4's pair key: the same rule twice, its pad byte 0 and 0x7f.
    for (const [key, n] of [
      ['0a0a00020a0a000300500600', '2'],
      ['0a0a00020a0a00030050067f', '2'],
    ])
      expect((await cli(['bpf', 'maps', 'policy_ports', '--key', key, '--set', n, ...pin])).exitCode).toBe(0)
    const rules = await cli(['bpf', 'maps', 'policy_ports', ...pin])
    expect(rules.stdout).toMatch(
      /src=10\.10\.0\.2 dst=10\.10\.0\.3 dport=80 proto=tcp\s+2\s+0a0a0002 0a0a0003 0050 06 7f/,
    )
    expect(rules.stdout).toContain(
      'keys differ only in padding bytes: src=10.10.0.2 dst=10.10.0.3 dport=80 proto=tcp (2 keys). Zero the key',
    )
  })
})
