import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {writeFileSync, readFileSync, readdirSync, existsSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {Ledger} from '../../src/host/ledger.js'
import {tempStateDir, repoRoot, requireBuilt} from '../helpers/env.js'

describe('Ledger', () => {
  let t: ReturnType<typeof tempStateDir>
  let path: string
  const warnings: string[] = []
  beforeEach(() => {
    t = tempStateDir()
    path = join(t.dir, 'ledger.json')
    warnings.length = 0
  })
  afterEach(() => t.cleanup())

  it('records, updates, finds and forgets entries, persisting across instances', () => {
    const a = new Ledger(path)
    const e1 = a.record('netns', 'ebpfcni-a', {lab: 1, owner: 'pod-a'})
    const e2 = a.record('link', 'veth1', {details: {netns: 'x'}})
    a.update(e2.id, {peer: 'eth0'})
    const b = new Ledger(path)
    expect(b.entries().map((e) => e.name)).toEqual(['ebpfcni-a', 'veth1'])
    expect(b.find((e) => e.owner === 'pod-a')[0].id).toBe(e1.id)
    expect(b.entries()[1].details).toEqual({netns: 'x', peer: 'eth0'})
    b.forget([e1.id])
    expect(new Ledger(path).entries().map((e) => e.id)).toEqual([e2.id])
  })

  it('moves a corrupt ledger aside with a warning instead of crashing', () => {
    writeFileSync(path, '{"version":1,"entries":[{"id":')
    const l = new Ledger(path, (m) => warnings.push(m))
    expect(l.entries()).toEqual([])
    expect(warnings[0]).toMatch(/unreadable; moved it to .*ledger\.json\.corrupt-/)
    expect(readdirSync(t.dir).some((f) => f.startsWith('ledger.json.corrupt-'))).toBe(true)
    l.record('pin', '/sys/fs/bpf/ebpfcni/x')
    expect(new Ledger(path).entries()).toHaveLength(1)
  })

  it('rejects a well-formed file of the wrong shape the same way', () => {
    writeFileSync(path, '{"version":7}')
    expect(new Ledger(path, (m) => warnings.push(m)).entries()).toEqual([])
    expect(warnings).toHaveLength(1)
  })

  it('survives a writer killed with SIGKILL mid-write: always parseable, lock recovered', async () => {
    requireBuilt()
    const writer = `
      const {Ledger} = await import(${JSON.stringify(join(repoRoot, 'dist/host/ledger.js'))});
      const l = new Ledger(process.argv[1]);
      // Big details so each write takes long enough to be interrupted.
      const big = 'x'.repeat(20000);
      for (let i = 0; ; i++) l.record('file', 'f' + i, {details: {big}});
    `
    for (let round = 0; round < 6; round++) {
      const child = execa('node', ['--input-type=module', '-e', writer, path], {reject: false})
      // Kill it while it writes: once it has written at least once (however slow node's start-up
      // is on a busy machine), then a little later, at a different moment each round.
      const start = existsSync(path) ? statSync(path).mtimeMs : 0
      for (let i = 0; i < 500 && (!existsSync(path) || statSync(path).mtimeMs === start); i++)
        await new Promise((r) => setTimeout(r, 20))
      await new Promise((r) => setTimeout(r, 5 + round * 7))
      child.kill('SIGKILL')
      await child
      const text = readFileSync(path, 'utf8')
      const parsed = JSON.parse(text) as {entries: unknown[]}
      expect(parsed.entries.length).toBeGreaterThan(0)
    }
    // The dead writer's lock (if it held one) must not block the next writer.
    const l = new Ledger(path, (m) => warnings.push(m))
    const before = l.entries().length
    l.record('netns', 'after-crash')
    expect(l.entries().length).toBe(before + 1)
    expect(warnings).toEqual([])
    // Temp files of the killed writers are swept by the next write.
    expect(readdirSync(t.dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
    expect(existsSync(`${path}.lock`)).toBe(false)
  }, 30_000)
})
