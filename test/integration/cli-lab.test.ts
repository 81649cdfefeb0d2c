import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, cliRunner} from '../helpers/env.js'
import {loadLabs} from '../../src/labs/catalogue.js'
import {ProgressStore} from '../../src/host/progress.js'

describe('CLI: lab without a terminal, check --json on the real install paths, reset restores', () => {
  const t = tempStateDir()
  const ws = join(t.dir, 'workspace')
  const env = {EBPFCNI_STATE_DIR: t.dir, EBPFCNI_WORKSPACE: ws, CI: 'true'}
  const cli = cliRunner(env)
  const installed = ['/opt/cni/bin/ebpfcni', '/etc/cni/net.d/10-ebpfcni.conf']
  const had = installed.map((f) => (existsSync(f) ? readFileSync(f) : undefined))

  beforeAll(() => {
    requireRoot()
    requireBuilt()
  })
  afterAll(async () => {
    await cli(['reset', '--yes'])
    t.cleanup()
  })

  it('`lab 1` without a terminal prints the first step and the commands, creates the workspace, exits 0', async () => {
    const r = await cli(['lab', '1'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toContain('Lab 1 — The bridge CNI plugin')
    expect(r.stdout).toContain('Step 1 — the skeleton')
    expect(r.stdout).toContain('ebpfcni check 1 --step skeleton')
    expect(existsSync(join(ws, 'ebpfcni'))).toBe(true)
  })

  it('`lab N` once every step passes: says the lab is done and names the next lab, not step 1 again', async () => {
    const labs = loadLabs()
    const [lab, next] = [labs[1], labs[2]]
    // A workspace of its own: opening another lab changes the files of the one the other tests use.
    const own = join(t.dir, 'workspace-done')
    // The CLI's progress file for it, under the test's state dir (read when the store is made).
    process.env.EBPFCNI_STATE_DIR = t.dir
    const progress = ProgressStore.forWorkspace(own)
    delete process.env.EBPFCNI_STATE_DIR
    expect(progress.path.startsWith(t.dir)).toBe(true)
    const [last, ...rest] = [...lab.steps].reverse()
    for (const s of rest) progress.recordCheck(lab.id, s.id, 3, 3)
    // One step still failing: the lab shows that step, as before.
    progress.recordCheck(lab.id, last.id, 2, 3, 'some.check')
    const pending = await cli(['lab', String(lab.id), '--workspace', own])
    expect(pending.exitCode, pending.stderr).toBe(0)
    expect(pending.stdout).not.toMatch(/is done/)
    expect(pending.stdout).toContain(`ebpfcni check ${lab.id} --step ${last.id}`)
    progress.recordCheck(lab.id, last.id, 3, 3)
    const done = await cli(['lab', String(lab.id), '--workspace', own])
    expect(done.exitCode, done.stderr).toBe(0)
    expect(done.stdout).toContain(`✔ Lab ${lab.id} is done: all ${lab.steps.length} steps pass.`)
    expect(done.stdout).toContain(`Next: ebpfcni lab ${next.id} (${next.title})`)
    expect(done.stdout).not.toMatch(/Commands for this step/)
    // Asking for a step still shows it.
    const asked = await cli(['lab', String(lab.id), '--step', lab.steps[0].id, '--workspace', own])
    expect(asked.stdout).toContain(`ebpfcni check ${lab.id} --step ${lab.steps[0].id}`)
    expect(asked.stdout).not.toMatch(/is done/)
    progress.resetLab(lab.id)
  })

  it('check --json prints the contract object; the starter fails with stable ids and exit 1', async () => {
    const r = await cli(['check', '1', '--step', 'skeleton', '--json'])
    expect(r.exitCode).toBe(1)
    const report = JSON.parse(r.stdout) as {
      lab: number
      step: string
      passed: boolean
      durationMs: number
      checks: Array<{id: string; status: string; message: string; hint?: string}>
    }
    expect(report).toMatchObject({lab: 1, step: 'skeleton', passed: false})
    expect(report.durationMs).toBeGreaterThan(0)
    expect(report.checks.map((c) => c.id)).toEqual(['plugin.present', 'config.valid', 'cni.version', 'cni.errors'])
    const version = report.checks.find((c) => c.id === 'cni.version')!
    expect(version.status).toBe('fail')
    // The starter's error() helper already speaks the spec; VERSION itself is the learner's to write.
    expect(version.message).toMatch(
      /VERSION of plugin "ebpfcni" failed with error code 4 .*: VERSION is not implemented yet/,
    )
    expect(version.hint).toMatch(/supportedVersions/)
    expect(existsSync('/opt/cni/bin/ebpfcni')).toBe(true)
  })

  it('a whole-lab check hints the first failing step only; later steps show what was seen, not their hints', async () => {
    const r = await cli(['check', '1'])
    expect(r.exitCode).toBe(1)
    const block = (id: string) => r.stdout.split(/\n(?=[✔✘–] )/).find((b) => b.includes(`[${id}]`)) ?? ''
    // The starter fails first in skeleton: its hint leads to the fix.
    expect(block('cni.version')).toMatch(/hint: .*supportedVersions/)
    // A stretch step's failure says what it saw and where its hint is, not the hint itself.
    const ipam = block('cni.ipam.unique')
    expect(ipam).toMatch(/seen: .*ADDs failed/)
    expect(ipam).toContain('(step production, stretch: a later step; its hint: ebpfcni check 1 --step production)')
    expect(ipam).not.toMatch(/^\s+hint:/m)
    expect(r.stdout).toContain('first failing step: skeleton. For it alone: ebpfcni check 1 --step skeleton')
  })

  it('after the solution is applied the step passes; status shows it; hint advances', async () => {
    expect((await cli(['solution', '1', '--apply'])).exitCode).toBe(2) // no terminal, no --yes: refuses
    expect((await cli(['solution', '1', '--apply', '--yes'])).exitCode).toBe(0)
    const r = await cli(['check', '1', '--step', '1', '--json'])
    expect(r.exitCode, r.stdout).toBe(0)
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as {
      labs: Array<{lab: number; steps: Array<{id: string; done: boolean}>}>
    }
    expect(status.labs[0].steps.find((s) => s.id === 'skeleton')?.done).toBe(true)
    const h1 = await cli(['hint', '1', '--step', 'add'])
    const h2 = await cli(['hint', '1', '--step', 'add'])
    const hints = loadLabs()[0].steps.find((s) => s.id === 'add')!.hints.length
    expect(h1.stdout).toContain(`hint 1/${hints}`)
    expect(h2.stdout).toContain(`hint 2/${hints}`)
    expect(h1.stdout).not.toContain(`hint 2/${hints}`)
  })

  it('reset --dry-run lists the installed files; reset removes them and is then empty', async () => {
    const dry = await cli(['reset', '--dry-run'])
    for (const f of installed) expect(dry.stdout).toContain(f)
    const r = await cli(['reset', '--yes'])
    expect(r.exitCode, r.stderr).toBe(0)
    installed.forEach((f, i) => expect(existsSync(f) ? readFileSync(f) : undefined).toEqual(had[i]))
    expect((await cli(['reset', '--dry-run'])).stdout).toMatch(/Nothing to remove/)
  })

  it('usage errors exit 2 with one clear line, no stack trace', async () => {
    const r = await cli(['check', '9'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toContain(
      `error: there is no lab "9"\nhint: the labs are ${loadLabs()
        .map((l) => l.id)
        .join(', ')}`,
    )
    expect(r.stderr).not.toMatch(/\n\s+at |report it/)
    const s = await cli(['check', '1', '--step', 'nope'])
    expect(s.exitCode).toBe(2)
    expect(s.stderr).toMatch(/error: lab 1 has no step "nope"\nhint: its steps, by number or id: 1=skeleton/)
  })
})
