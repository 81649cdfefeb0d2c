import {describe, it, expect, afterAll} from 'vitest'
import {existsSync, mkdirSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, cliRunner} from '../helpers/env.js'
import {loadLabs} from '../../src/labs/catalogue.js'

// Progress belongs to a workspace, as the attendee types it: `hint --workspace` for a folder that
// is not there records nothing and says how to make it; `reset --dry-run` names the workspace
// whose progress it would forget.

describe('progress per workspace, through bin/run.js', () => {
  const t = tempStateDir('ebpfcni-workspaces-')
  const state = join(t.dir, 'state')
  const cli = cliRunner({...process.env, EBPFCNI_STATE_DIR: state, CI: 'true'} as Record<string, string>)
  const a = join(t.dir, 'alice')
  const b = join(t.dir, 'bob')
  afterAll(() => t.cleanup())

  it('hint 1 --workspace on a folder that does not exist: exit 2, how to make it, no progress recorded', async () => {
    requireBuilt()
    const missing = join(t.dir, 'nonexistent')
    const r = await cli(['hint', '1', '--workspace', missing])
    expect(r.exitCode).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`there is no workspace at ${missing}`)
    expect(r.stderr).toContain(`ebpfcni lab 1 --workspace ${missing} creates it`)
    expect(existsSync(join(state, 'progress')) ? readdirSync(join(state, 'progress')) : []).toEqual([])
    expect(existsSync(missing)).toBe(false)
    // --json: the same error as an object.
    const j = await cli(['hint', '1', '--workspace', missing, '--json'])
    expect(j.exitCode).toBe(2)
    expect(JSON.parse(j.stdout)).toMatchObject({error: {message: `there is no workspace at ${missing}`, exitCode: 2}})
  })

  it('once lab 1 made it, hint works there; reset --dry-run --progress names each workspace', async () => {
    for (const ws of [a, b]) {
      const open = await cli(['lab', '1', '--workspace', ws])
      expect(open.exitCode, open.stderr).toBe(0)
      const h = await cli(['hint', '1', '--workspace', ws])
      expect(h.exitCode, h.stderr).toBe(0)
      expect(h.stdout).toContain('hint 1/3')
    }
    const dry = await cli(['reset', '1', '--dry-run', '--progress'])
    expect(dry.exitCode, dry.stderr).toBe(0)
    const lines = dry.stdout.split('\n')
    expect(lines).toContain(`  - forget progress of lab 1 (0 step(s) done) in ${a}`)
    expect(lines).toContain(`  - forget progress of lab 1 (0 step(s) done) in ${b}`)
    const json = JSON.parse((await cli(['reset', '1', '--dry-run', '--progress', '--json'])).stdout) as {
      progress: string[]
    }
    expect(json.progress.sort()).toEqual([`lab 1 (0 step(s) done) in ${a}`, `lab 1 (0 step(s) done) in ${b}`])
    const kept = await cli(['reset', '1', '--dry-run'])
    expect(kept.stdout).toContain(`Your progress (lab 1 (0 step(s) done) in `)
    expect(kept.stdout).toMatch(/\) stays; add --progress to forget it too\./)
  })
})

// Hints name the workspace in use (issue 32 §3): with EBPFCNI_WORKSPACE set, no hint of any lab says
// ~/ebpfcni-lab, and a hint written with it names the workspace instead.
describe('hints name the workspace in use, through bin/run.js', () => {
  const t = tempStateDir('ebpfcni-hint-ws-')
  afterAll(() => t.cleanup())

  it('hint N --step S for every lab and step, every hint: no ~/ebpfcni-lab, no /root/ebpfcni-lab', async () => {
    requireBuilt()
    // No lab hint writes ~/ebpfcni-lab today (ebf41b6 took the last out); a hint written with it is
    // rewritten to the workspace in use (unit: workspace.test.ts). Through the CLI: every hint of every
    // step, shown with another workspace set, names neither the default nor root's home.
    const outputs = await Promise.all(
      loadLabs().map(async (lab) => {
        // A workspace per lab: each its own progress file, so the labs run side by side.
        const ws = join(t.dir, `ws-${lab.id}`)
        mkdirSync(ws, {recursive: true})
        const cli = cliRunner({
          ...process.env,
          EBPFCNI_STATE_DIR: join(t.dir, 'state'),
          EBPFCNI_WORKSPACE: ws,
          CI: 'true',
        } as Record<string, string>)
        let out = ''
        let shown = 0
        for (const step of lab.steps)
          // Each call shows one hint more.
          for (let i = 0; i < step.hints.length; i++) {
            const r = await cli(['hint', String(lab.id), '--step', step.id])
            expect(r.exitCode, r.stderr).toBe(0)
            out += r.stdout
            shown++
          }
        const named = lab.steps.some((s) => s.hints.some((h) => h.includes('~/ebpfcni-lab')))
        return {ws, out, shown, named}
      }),
    )
    // Every hint was shown: the assertions below read them all.
    expect(outputs.reduce((n, o) => n + o.shown, 0)).toBe(
      loadLabs().reduce((n, l) => n + l.steps.reduce((m, s) => m + s.hints.length, 0), 0),
    )
    for (const {ws, out, named} of outputs) {
      expect(out).toMatch(/hint \d+\/\d+/)
      expect(out).not.toContain('~/ebpfcni-lab')
      expect(out).not.toContain('/root/ebpfcni-lab')
      if (named) expect(out).toContain(ws)
    }
  }, 120_000)
})
