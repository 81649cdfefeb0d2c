import {describe, it, expect, afterAll} from 'vitest'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, cliRunner} from '../helpers/env.js'

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
