import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {cpSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {tempStateDir, repoRoot, requireBuilt, cliRunner} from '../helpers/env.js'

// A lab is two folders. Lab 9 is built here, in a temp dir laid out as the package is (its content
// in labs/09-throwaway/, its module in dist/labs/lab9/), and the unchanged CLI lists, checks, hints,
// solves, auto-runs and resets it. Nothing in the repository is touched to add it.

describe('a new lab is its two folders: a throwaway lab 9', () => {
  const t = tempStateDir('ebpfcni-lab9-')
  const root = join(t.dir, 'extra')
  const ws = join(t.dir, 'ws')
  const state = join(t.dir, 'state')
  const env = {
    EBPFCNI_LAB_ROOTS: root,
    EBPFCNI_STATE_DIR: state,
    EBPFCNI_WORKSPACE: ws,
    EBPFCNI_TEST_ENGINE: pathToFileURL(join(repoRoot, 'dist/checks/engine.js')).href,
    CI: 'true',
  }
  const cli = cliRunner(env)
  const gitStatus = async () => (await execa('git', ['status', '--porcelain'], {cwd: repoRoot})).stdout
  let repoBefore = ''

  beforeAll(async () => {
    requireBuilt()
    repoBefore = await gitStatus()
    const fixture = join(repoRoot, 'test/fixtures/throwaway-lab')
    cpSync(join(fixture, 'labs'), join(root, 'labs'), {recursive: true})
    mkdirSync(join(root, 'dist/labs'), {recursive: true})
    cpSync(join(fixture, 'module'), join(root, 'dist/labs/lab9'), {recursive: true})
    mkdirSync(state, {recursive: true})
  })
  afterAll(() => t.cleanup())

  it('is listed by lab and status, next to the shipped labs', async () => {
    const list = await cli(['lab'])
    expect(list.stdout).toMatch(/lab 9: A throwaway lab — Prove that adding a lab is adding its two folders\./)
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as {labs: Array<{lab: number}>}
    expect(status.labs.map((l) => l.lab).at(-1)).toBe(9)
    expect(status.labs.length).toBeGreaterThan(1)
  })

  it('opens, fails its check on the starter with the check id and message, hints, diffs, applies, passes', async () => {
    const open = await cli(['lab', '9'])
    expect(open.exitCode, open.stderr).toBe(0)
    expect(open.stdout).toContain('Lab 9 — A throwaway lab')
    expect(readFileSync(join(ws, 'hello.txt'), 'utf8')).toBe('TODO(greet): say it\n')

    const failing = await cli(['check', '9', '--json'])
    expect(failing.exitCode).toBe(1)
    expect(JSON.parse(failing.stdout)).toMatchObject({
      lab: 9,
      passed: false,
      checks: [{id: 'greeting.says-hello', status: 'fail', message: 'hello.txt says "TODO(greet): say it", not hello'}],
    })

    expect((await cli(['hint', '9'])).stdout).toMatch(/hint 1\/2.*\n\s+Open hello\.txt\./)
    expect((await cli(['hint', '9'])).stdout).toMatch(/Write the word hello in it\./)
    expect((await cli(['solution', '9'])).stdout).toMatch(/\+hello/)
    expect((await cli(['solution', '9', '--apply', '--yes'])).exitCode).toBe(0)

    const passing = await cli(['check', '9', '--json'])
    expect(passing.exitCode, passing.stdout).toBe(0)
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as {
      labs: Array<{lab: number; stepsDone: number; steps: Array<{hintsSeen: number}>}>
    }
    expect(status.labs.find((l) => l.lab === 9)).toMatchObject({stepsDone: 1, steps: [{hintsSeen: 2}]})
  })

  it('auto-runs, and reset finds what its module says the learner made', async () => {
    const auto = await cli(['lab', '9', '--auto', '--json'])
    expect(auto.exitCode, auto.stdout + auto.stderr).toBe(0)
    expect(JSON.parse(auto.stdout)).toMatchObject({passed: true, steps: [{lab: 9, step: 'greet', passed: true}]})

    // The check wrote its marker again; only lab 9's discoverer names it.
    await cli(['check', '9'])
    expect(existsSync(join(state, 'lab9-greeting'))).toBe(true)
    expect((await cli(['reset', '9', '--dry-run'])).stdout).toContain("remove lab 9's greeting")
    expect((await cli(['reset', '9', '--yes'])).exitCode).toBe(0)
    expect(existsSync(join(state, 'lab9-greeting'))).toBe(false)
  })

  it('touched no file of the repository', async () => {
    expect(await gitStatus()).toBe(repoBefore)
  })
})
