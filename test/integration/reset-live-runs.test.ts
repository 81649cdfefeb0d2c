import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa, type ResultPromise} from 'execa'
import {existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, uniq, cliRunner} from '../helpers/env.js'
import {liveAndDeadRuns} from '../helpers/live-runs.js'
import {cgroup2Root} from '../../labs/06-services/cgroups.js'
import type {LedgerEntry} from '../../src/host/ledger.js'

// Walked: `reset --yes` in one sandbox removed the cgroup ebpfcni-services-16822-… (and its connect4
// program) of `lab all --auto`, pid 16822, still running elsewhere. What a live run of ebpfcni made
// stays, named with its pid and command; what a dead run made goes.

describe('reset leaves what a live ebpfcni run made, and removes what a dead one left', () => {
  const t = tempStateDir()
  const id = uniq()
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env)
  const pinDir = `/sys/fs/bpf/ebpfcni-rl${id}`
  // Where lab 6 makes its runs' cgroups (below a test shard's own cgroup, in one).
  const cgroupRoot = cgroup2Root()!
  const made: {cgroups: string[]; netns: string[]} = {cgroups: [], netns: []}
  let holder: ResultPromise | undefined
  let live: {pid: number; startTime?: number}
  let dead: {pid: number}

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    ;({holder, live, dead} = await liveAndDeadRuns(env, pinDir))
  }, 60_000)

  afterAll(async () => {
    holder?.kill('SIGTERM')
    await holder?.catch(() => undefined)
    for (const c of made.cgroups) if (existsSync(c)) rmdirSync(c)
    for (const n of made.netns) await execa('ip', ['netns', 'del', n], {reject: false})
    await execa('rm', ['-rf', pinDir], {reject: false})
    t.cleanup()
  })

  /** What a check run records as it goes (its scratch dir, its pods' netns), stamped with that run. */
  async function recordRun(tag: string, by: LedgerEntry['by']): Promise<{dir: string; netns: string; cgroup: string}> {
    const dir = join(t.dir, `scratch-${tag}`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'services.o'), 'x')
    const netns = `ebpfcni-chk${by!.pid % 10000}-${tag}`
    await execa('ip', ['netns', 'add', netns])
    made.netns.push(netns)
    const cgroup = join(cgroupRoot, `ebpfcni-services-${by!.pid}-${tag}`)
    mkdirSync(cgroup)
    made.cgroups.push(cgroup)
    const at = new Date().toISOString()
    const entries: LedgerEntry[] = [
      {
        id: `${tag}-dir`,
        kind: 'dir',
        name: dir,
        lab: 6,
        owner: 'check:lab6',
        createdAt: at,
        by,
        details: {scratch: true},
      },
      {id: `${tag}-ns`, kind: 'netns', name: netns, lab: 6, owner: 'check:lab6', createdAt: at, by, details: {}},
    ]
    const path = join(t.dir, 'ledger.json')
    const ledger = existsSync(path)
      ? (JSON.parse(readFileSync(path, 'utf8')) as {entries: LedgerEntry[]})
      : {entries: []}
    writeFileSync(path, JSON.stringify({version: 1, entries: [...ledger.entries, ...entries]}))
    return {dir, netns, cgroup}
  }

  it('reset --yes: the live run keeps its scratch dir, netns and cgroup; the dead and the pid-reused go', async () => {
    const mine = await recordRun(`l${id}`, live)
    const gone = await recordRun(`d${id}`, dead)
    // The live run's pid, but another process's start time: a pid used again, not the run.
    const reused = await recordRun(`r${id}`, {pid: live.pid, startTime: (live.startTime ?? 0) + 1})
    const netnsNow = async (): Promise<string> => (await execa('ip', ['netns', 'list'])).stdout

    const dry = await cli(['reset', '6', '--dry-run', '--json'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    const plan = JSON.parse(dry.stdout) as {
      actions: Array<{description: string}>
      kept: Array<{description: string; why: string}>
    }
    const why = `in use by pid ${live.pid}: ebpfcni metrics`
    expect(plan.kept).toEqual(
      expect.arrayContaining([
        {kind: 'dir', description: `remove scratch directory ${mine.dir}`, why},
        {kind: 'netns', description: `delete netns ${mine.netns}`, why},
        {
          kind: 'cgroup',
          description: `remove the cgroup ${mine.cgroup} (and the connect4 program attached to it)`,
          why,
        },
      ]),
    )
    const planned = plan.actions.map((a) => a.description)
    for (const r of [gone, reused]) {
      expect(planned, dry.stdout).toContain(`remove scratch directory ${r.dir}`)
      expect(planned).toContain(`delete netns ${r.netns}`)
    }
    expect(planned).toContain(`remove the cgroup ${gone.cgroup} (and the connect4 program attached to it)`)
    expect(planned.filter((d) => d.includes(mine.dir) || d.includes(mine.netns) || d.includes(mine.cgroup))).toEqual([])

    const r = await cli(['reset', '6', '--yes'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain(`skipped: remove scratch directory ${mine.dir} (${why})`)
    expect(r.stdout).toContain(`skipped: remove the cgroup ${mine.cgroup}`)
    // (Another live run's objects on this host, a lab 6 check's cgroup, may be named beside it.)
    expect(r.stdout).toMatch(new RegExp(`left alone: what (.* and )?pid ${live.pid} \\(ebpfcni metrics\\)`))
    expect(existsSync(mine.dir) && existsSync(mine.cgroup), r.stdout).toBe(true)
    expect(await netnsNow()).toContain(mine.netns)
    for (const x of [gone, reused]) {
      expect(existsSync(x.dir), `${x.dir}: ${r.stdout}`).toBe(false)
      expect(await netnsNow()).not.toContain(x.netns)
    }
    // A cgroup names its run's pid only: the dead run's goes; one named with the live pid stays with it.
    expect(existsSync(gone.cgroup), r.stdout).toBe(false)
    const left = (JSON.parse(readFileSync(join(t.dir, 'ledger.json'), 'utf8')) as {entries: LedgerEntry[]}).entries
    expect(left.map((e) => e.id).sort()).toEqual([`l${id}-dir`, `l${id}-ns`])

    // Once the run has ended, the next reset removes what it left.
    holder!.kill('SIGKILL')
    await holder!.catch(() => undefined)
    const after = await cli(['reset', '6', '--yes'])
    expect(after.exitCode, after.stderr).toBe(0)
    expect(after.stdout).not.toContain(`pid ${live.pid}`)
    expect(existsSync(mine.dir) || existsSync(mine.cgroup), after.stdout).toBe(false)
    expect(await netnsNow()).not.toContain(mine.netns)
  })
})
