import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {cpSync, existsSync, mkdirSync, readFileSync, symlinkSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {tempStateDir, repoRoot, requireBuilt} from '../helpers/env.js'

// A lab is one folder. In a copy of the package (its tracked files, committed to a scratch git
// repository), lab 9 is added as a lab is: labs/09-throwaway/ with its lab.yaml, steps, starter,
// solution, module, checks and reset, importing the engine through #engine/… and #checks/…. The
// unchanged build compiles it, the unchanged CLI lists, checks, hints, solves, auto-runs and resets
// it, and `git status` shows that folder and nothing else.

describe('a new lab is its folder: a throwaway lab 9', () => {
  const t = tempStateDir('ebpfcni-lab9-')
  const pkg = join(t.dir, 'pkg')
  const ws = join(t.dir, 'ws')
  const state = join(t.dir, 'state')
  const env = {EBPFCNI_STATE_DIR: state, EBPFCNI_WORKSPACE: ws, CI: 'true', PATH: process.env.PATH ?? ''}
  const cli = (args: string[]) =>
    execa('node', [join(pkg, 'bin/run.js'), ...args], {reject: false, env, timeout: 120_000, stdin: 'ignore'})
  const git = (...args: string[]) => execa('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], {cwd: pkg})

  beforeAll(async () => {
    requireBuilt()
    // The package as a clone would have it: tracked files (and new ones not yet committed).
    const listed = await execa('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {cwd: repoRoot})
    for (const f of listed.stdout.split('\0').filter(Boolean)) {
      if (!existsSync(join(repoRoot, f))) continue
      mkdirSync(dirname(join(pkg, f)), {recursive: true})
      cpSync(join(repoRoot, f), join(pkg, f))
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(pkg, 'node_modules'))
    await git('init', '-q')
    await git('add', '-A')
    await git('commit', '-qm', 'the package')
    cpSync(join(repoRoot, 'test/fixtures/09-throwaway'), join(pkg, 'labs/09-throwaway'), {recursive: true})
    const build = await execa('npm', ['run', '--silent', 'build'], {cwd: pkg, reject: false, timeout: 300_000})
    if (build.exitCode !== 0) throw new Error(`the package copy did not build:\n${build.stdout}\n${build.stderr}`)
    mkdirSync(state, {recursive: true})
  }, 400_000)
  afterAll(() => t.cleanup())

  it('is compiled beside the engine, into dist/labs/09-throwaway/', () => {
    expect(existsSync(join(pkg, 'dist/labs/09-throwaway/module.js'))).toBe(true)
    expect(existsSync(join(pkg, 'dist/labs/09-throwaway/checks/greet.js'))).toBe(true)
  })

  it('is listed by lab and status, next to the shipped labs', async () => {
    const list = await cli(['lab'])
    expect(list.stdout).toMatch(/lab 9: A throwaway lab — Prove that adding a lab is adding its folder\./)
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

  it('touched no other file of the package: git status shows its folder alone', async () => {
    expect((await git('status', '--porcelain')).stdout).toBe('?? labs/09-throwaway/')
  })
})
