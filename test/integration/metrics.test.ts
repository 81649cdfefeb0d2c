import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, repoRoot, uniq, cliRunner} from '../helpers/env.js'
import {buildBpf} from '../../src/bpf/build.js'
import {loadAndPin} from '../../src/bpf/programs.js'
import {closeFd} from '../../src/bpf/ffi.js'
import {mapUpdate} from '../../src/bpf/map-ops.js'
import {objGet} from '../../src/bpf/object.js'
import {ipv4Key} from '../../src/bpf/counters.js'
import {Ledger} from '../../src/host/ledger.js'
import {parseExposition} from '../../src/metrics/exposition.js'

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as {port: number}).port
      s.close(() => resolve(p))
    })
  })

/** Counts written straight into a pinned lab 3 (shared hash) counter map. */
function setCount(pin: string, ip: string, n: bigint): void {
  const fd = objGet(pin)
  const v = Buffer.alloc(8)
  v.writeBigUInt64LE(n)
  mapUpdate(fd, ipv4Key(ip), v)
  closeFd(fd)
}

describe('ebpfcni metrics: exporter over a pinned map, promtool, a real Prometheus server scraping it', () => {
  const t = tempStateDir()
  const pinDir = `/sys/fs/bpf/ebpfcni-tm${uniq()}`
  const pin = join(pinDir, 'counter')
  /** The same program pinned again: a counter map that has counted nothing. */
  const emptyPinDir = `${pinDir}-empty`
  const emptyPin = join(emptyPinDir, 'counter')
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env, 30_000)
  let prometheus: ResultPromise | undefined

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    for (const tool of ['promtool', 'prometheus']) {
      if ((await execa('which', [tool], {reject: false})).exitCode !== 0)
        throw new Error(`${tool} is missing (Debian package prometheus): run bash scripts/setup.sh`)
    }
    const built = await buildBpf(
      join(repoRoot, 'labs/03-maps-monitoring/solution/counter/ebpfcni.bpf.c'),
      join(t.dir, 'counter.o'),
    )
    expect(built.ok).toBe(true)
    loadAndPin(built.object, {pinDir, ledger: new Ledger(join(t.dir, 'ledger.json')), replace: true})
    loadAndPin(built.object, {pinDir: emptyPinDir, ledger: new Ledger(join(t.dir, 'ledger.json')), replace: true})
    setCount(pin, '10.99.0.5', 42n)
    setCount(pin, '10.99.0.6', 7n)
    // A pod record, as `ebpfcni pod add` leaves, so the exporter can name the source.
    new Ledger(join(t.dir, 'ledger.json')).record('pod', 'httpbin', {
      details: {name: 'httpbin', ip: '10.99.0.5', runtime: 'netns'},
    })
  })
  afterAll(async () => {
    prometheus?.kill('SIGKILL')
    await cli(['metrics', '--stop'])
    rmSync(pinDir, {recursive: true, force: true})
    rmSync(emptyPinDir, {recursive: true, force: true})
    t.cleanup()
  })

  it('--once prints counters named by pod, and promtool accepts them', async () => {
    const r = await cli(['metrics', '--once', '--map', pin])
    expect(r.exitCode, r.stderr).toBe(0)
    const samples = parseExposition(r.stdout)
    expect(samples).toContainEqual({
      name: 'ebpfcni_packets_total',
      labels: {source_addr: '10.99.0.5', pod: 'httpbin'},
      value: 42,
    })
    expect(samples).toContainEqual({
      name: 'ebpfcni_packets_total',
      labels: {source_addr: '10.99.0.6', pod: ''},
      value: 7,
    })
    expect(samples).toContainEqual({name: 'ebpfcni_map_up', labels: {}, value: 1})
    // How long the scrape's map read took, as exporters expose it.
    const took = samples.find((x) => x.name === 'ebpfcni_scrape_duration_seconds')
    expect(took?.value).toBeGreaterThan(0)
    expect(took!.value).toBeLessThan(10)
    const lint = await execa('promtool', ['check', 'metrics'], {input: `${r.stdout}\n`, reject: false}) // execa strips the final newline
    expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0)
  })

  it('--once on a map that counted nothing: exit 1, nothing on stdout, and why on stderr', async () => {
    const r = await cli(['metrics', '--once', '--map', emptyPin])
    expect(r.exitCode).toBe(1)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/nothing to export: .*-empty\/counter has counted no packet yet/)
    expect(r.stderr).toMatch(/hint: make pods and traffic first \(ebpfcni pod add httpbin/)
  })

  it("lab 3 step 2's promtool command, as typed: fails when the exporter exported nothing, passes on counts", async () => {
    // The line from the step's text, run by bash as a learner pastes it, with `ebpfcni` this
    // build (given the test's map: the text uses the default one).
    const text = readFileSync(join(repoRoot, 'labs/03-maps-monitoring/steps/02-metrics.md'), 'utf8')
    const line = text.split('\n').find((l) => /^ebpfcni metrics --once\b.*promtool check metrics/.test(l))
    expect(line, 'the step has no line that runs promtool on metrics --once').toBeDefined()
    const bin = join(t.dir, 'shim')
    mkdirSync(bin, {recursive: true})
    writeFileSync(join(bin, 'ebpfcni'), `#!/bin/sh\nexec node ${join(repoRoot, 'bin/run.js')} "$@" --map "$TEST_MAP"\n`)
    chmodSync(join(bin, 'ebpfcni'), 0o755)
    const asTyped = (map: string) =>
      execa('bash', ['-c', line!], {
        cwd: t.dir,
        reject: false,
        timeout: 30_000,
        stdin: 'ignore',
        env: {...env, TEST_MAP: map, PATH: `${bin}:${process.env.PATH}`},
      })
    const empty = await asTyped(emptyPin)
    expect(empty.exitCode, 'an empty scrape must not pass').not.toBe(0)
    expect(empty.stderr).toMatch(/nothing to export/)
    // What the text used to say: a pipe's status is promtool's, and promtool accepts no input.
    const piped = await execa('bash', ['-c', 'ebpfcni metrics --once | promtool check metrics'], {
      reject: false,
      timeout: 30_000,
      stdin: 'ignore',
      env: {...env, TEST_MAP: emptyPin, PATH: `${bin}:${process.env.PATH}`},
    })
    expect(piped.exitCode, 'the old command was a false pass').toBe(0)
    const counted = await asTyped(pin)
    expect(counted.exitCode, counted.stdout + counted.stderr).toBe(0)
    expect(readFileSync(join(t.dir, 'scrape.prom'), 'utf8')).toMatch(/ebpfcni_packets_total\{source_addr="10.99.0.5"/)
  })

  it("--compat adds the original's name, which promtool refuses (as the texts say); the default output passes", async () => {
    const r = await cli(['metrics', '--once', '--compat', '--map', pin])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^ebpf_exporter_counter\{source_addr="10.99.0.5"\} 42$/m)
    const lint = await execa('promtool', ['check', 'metrics'], {input: `${r.stdout}\n`, reject: false, timeout: 10_000})
    expect(lint.exitCode).toBe(3)
    // The one complaint is the name, whatever its type.
    expect((lint.stdout + lint.stderr).trim().split('\n')).toEqual([
      "ebpf_exporter_counter metric name should not include type 'counter'",
    ])
    for (const [file, claim] of [
      ['docs/learner.md', /`promtool check metrics` refuses that name/],
      ['README.md', /`promtool check metrics` complains about `ebpf_exporter_counter`/],
    ] as const)
      expect(readFileSync(join(repoRoot, file), 'utf8'), file).toMatch(claim)
    expect((await cli(['metrics', '--help'])).stdout).toMatch(/promtool check metrics refuses that name/)
  })

  it('a missing map is exit 2 with a hint, not a stack trace', async () => {
    const r = await cli(['metrics', '--once', '--map', join(pinDir, 'nope')])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/no counter map is pinned at .*nope/)
    expect(r.stderr).toMatch(/hint:/)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })

  it('--background serves /metrics on loopback; Prometheus scrapes it; --stop ends it', async () => {
    const port = await freePort()
    const started = await cli(['metrics', '--background', '--compat', '--port', String(port), '--map', pin])
    expect(started.exitCode, started.stderr).toBe(0)
    expect(
      new Ledger(join(t.dir, 'ledger.json')).find(
        (e) => e.kind === 'process' && e.owner === 'process:metrics-exporter',
      ),
    ).toHaveLength(1)
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    expect(body).toMatch(/ebpf_exporter_counter\{source_addr="10.99.0.5"\} 42/)

    // Debian's Prometheus, on loopback, scraping the exporter every second.
    const promPort = await freePort()
    const dir = join(t.dir, 'prometheus')
    mkdirSync(dir, {recursive: true})
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ebpfcni\n    static_configs:\n      - targets: ['127.0.0.1:${port}']\n`,
    )
    prometheus = execa(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      {reject: false, stdin: 'ignore', timeout: 60_000},
    )
    const query = async (q: string): Promise<Array<{metric: Record<string, string>; value: [number, string]}>> => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`).catch(
        () => undefined,
      )
      if (!res?.ok) return []
      return ((await res.json()) as {data: {result: Array<{metric: Record<string, string>; value: [number, string]}>}})
        .data.result
    }
    let series: Awaited<ReturnType<typeof query>> = []
    for (let i = 0; i < 60 && !series.length; i++) {
      series = await query('ebpfcni_packets_total{pod="httpbin"}')
      if (!series.length) await new Promise((r) => setTimeout(r, 250))
    }
    expect(series, 'Prometheus never returned the series').toHaveLength(1)
    expect(series[0].metric).toMatchObject({source_addr: '10.99.0.5', pod: 'httpbin', job: 'ebpfcni'})
    expect(series[0].value[1]).toBe('42')
    // The original workshop's query still works.
    expect((await query('ebpf_exporter_counter{source_addr="10.99.0.6"}'))[0]?.value[1]).toBe('7')
    prometheus.kill('SIGTERM')
    await prometheus
    prometheus = undefined

    const stopped = await cli(['metrics', '--stop'])
    expect(stopped.stdout).toMatch(/stopped 1 exporter/)
    await expect(fetch(`http://127.0.0.1:${port}/metrics`)).rejects.toThrow()
    expect(new Ledger(join(t.dir, 'ledger.json')).find((e) => e.kind === 'process')).toHaveLength(0)
  }, 60_000)

  it('--watch (no terminal) prints the rates table each second, and ends with --for', async () => {
    const port = await freePort()
    const watching = cli(['metrics', '--watch', '--for', '3', '--port', String(port), '--map', pin], {}, 20_000)
    // The jump comes after the first frame has shown the count before it (on a busy machine that frame
    // can come later than any fixed wait): then a later frame must show it as a rate.
    let seen = ''
    watching.stdout?.on('data', (d: Buffer) => (seen += d.toString()))
    for (let i = 0; i < 300 && !/httpbin\s+10\.99\.0\.5\s+42\s/.test(seen) && watching.exitCode === null; i++)
      await new Promise((r) => setTimeout(r, 50))
    setCount(pin, '10.99.0.5', 1042n)
    const r = await watching
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/POD\s+SOURCE\s+PACKETS\s+PKT\/S/)
    expect(r.stdout).toMatch(/httpbin\s+10\.99\.0\.5\s+1042/)
    // The jump of 1000 shows as a non-zero rate in a later frame.
    expect(r.stdout).toMatch(/httpbin\s+10\.99\.0\.5\s+1042\s+[1-9]\d*\.\d/)
    expect(existsSync(pin)).toBe(true)
  }, 30_000)

  it('--watch --json prints one JSON object per refresh, packet totals as strings (u64)', async () => {
    const port = await freePort()
    const r = await cli(
      ['metrics', '--watch', '--json', '--for', '2', '--port', String(port), '--map', pin],
      {},
      20_000,
    )
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stderr).not.toMatch(/BigInt/)
    const frames = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as {error: string | null; pods: Array<{addr: string; pod: string; total: string}>})
    expect(frames.length).toBeGreaterThanOrEqual(2)
    expect(frames[0].error).toBeNull()
    expect(frames[0].pods).toContainEqual(expect.objectContaining({addr: '10.99.0.6', pod: '', total: '7'}))
    expect(frames[0].pods.find((p) => p.pod === 'httpbin')?.addr).toBe('10.99.0.5')
  }, 30_000)
})
