import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {loadLabs} from '../../src/labs/catalogue.js'
import {copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {tempStateDir, cliBin, requireBuilt, requireRoot, repoRoot, cliRunner} from '../helpers/env.js'
import {hostSnapshot} from '../helpers/host.js'

// The guided experience without a terminal: watch mode reacting to saves, the instructor's
// auto smoke test over all labs, and its promise to leave the machine as it was.

describe('guided: lab --watch, lab all --auto, usage errors', () => {
  const t = tempStateDir()
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env, 180_000)
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    t.cleanup()
  })

  /** `lab … --watch` running: wait for what it prints (no fixed delay), then Ctrl-C it. */
  const watch = (args: string[], watchEnv: Record<string, string>) => {
    const child = execa('node', [cliBin, ...args], {reject: false, env: watchEnv, timeout: 60_000, stdin: 'ignore'})
    let out = ''
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
    return {
      async waitFor(re: RegExp, ms: number): Promise<void> {
        const t0 = Date.now()
        while (!re.test(out)) {
          if (Date.now() - t0 > ms || child.exitCode !== null)
            throw new Error(`no ${re} from ebpfcni ${args.join(' ')}; output so far:\n${out}`)
          await new Promise((r) => setTimeout(r, 25))
        }
      },
      async stop() {
        child.kill('SIGINT')
        return child
      },
    }
  }

  it('usage errors: an unknown lab, and "all" without --auto, exit 2 with a hint', async () => {
    const nine = await cli(['lab', '9'])
    expect(nine.exitCode).toBe(2)
    expect(nine.stderr).toMatch(/there is no lab "9"/)
    const all = await cli(['lab', 'all'])
    expect(all.exitCode).toBe(2)
    expect(all.stderr).toMatch(/"all" goes with --auto/)
  })

  it('lab 1 --watch: checks the starter, then re-checks on save and moves on when the step passes', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ebpfcni-watch-'))
    try {
      const watching = execa('node', [cliBin, 'lab', '1', '--watch', '--for', '20', '--workspace', ws], {
        reject: false,
        env,
        timeout: 60_000,
        stdin: 'ignore',
      })
      let out = ''
      watching.stdout?.on('data', (d: Buffer) => (out += d.toString()))
      const waitFor = async (re: RegExp, ms: number): Promise<number> => {
        const t0 = Date.now()
        while (!re.test(out)) {
          if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${re}; output so far:\n${out}`)
          await new Promise((r) => setTimeout(r, 25))
        }
        return Date.now() - t0
      }
      await waitFor(/Save a file to check again/, 20_000)
      expect(out).toMatch(/Watching .* \(ebpfcni, 10-ebpfcni.conf\)/)
      expect(out).toMatch(/step skeleton: \d+ failing/)
      // Save the skeleton step's solution over the starter, as an editor would.
      const saved = Date.now()
      copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), join(ws, 'ebpfcni'))
      copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/10-ebpfcni.conf'), join(ws, '10-ebpfcni.conf'))
      await waitFor(/ebpfcni(, 10-ebpfcni.conf)? changed/, 5000)
      await waitFor(/Step done\. Next: Step 2/, 15_000)
      const latency = Date.now() - saved
      expect(out).toMatch(/step skeleton: all 4 checks pass/)
      expect(out).toMatch(/first result \d+ ms after the change/)
      // The figure for the closing note (save -> the step's verdict printed).
      console.log(`watch: save -> step verdict ${latency} ms`)
      watching.kill('SIGINT')
      const done = await watching
      expect(done.exitCode).toBe(130)
    } finally {
      rmSync(ws, {recursive: true, force: true})
    }
  }, 60_000)

  it('--watch stops at the end of the core path: after the last core step it says so and does not move to a stretch step', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ebpfcni-core-end-'))
    try {
      const env2 = {...env, EBPFCNI_STATE_DIR: join(ws, '.state')}
      // The learner's files as they are after step del (the last core step of lab 1).
      await execa('node', [cliBin, 'lab', '1', '--workspace', ws], {reject: false, env: env2, stdin: 'ignore'})
      copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/del/ebpfcni'), join(ws, 'ebpfcni'))
      copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/10-ebpfcni.conf'), join(ws, '10-ebpfcni.conf'))
      const watching = execa(
        'node',
        [cliBin, 'lab', '1', '--step', 'del', '--watch', '--for', '25', '--workspace', ws],
        {
          reject: false,
          env: env2,
          timeout: 60_000,
          stdin: 'ignore',
        },
      )
      let out = ''
      watching.stdout?.on('data', (d: Buffer) => (out += d.toString()))
      const t0 = Date.now()
      while (!/the core path is done/.test(out)) {
        if (Date.now() - t0 > 25_000) throw new Error(`no end of the core path; output:\n${out}`)
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(out).toMatch(/step del: all \d+ checks pass/)
      expect(out).toMatch(/The next step, Step 4 .*, is optional \(stretch\): watch mode stays here/)
      expect(out).toMatch(/ebpfcni lab 1 --step production --watch/)
      expect(out).not.toMatch(/Step done\. Next:/)
      watching.kill('SIGINT')
      expect((await watching).exitCode).toBe(130)
    } finally {
      rmSync(ws, {recursive: true, force: true})
    }
  }, 60_000)

  it('--watch: a plugin bash cannot parse is named first (plugin.parses), before any check runs it', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ebpfcni-parse-'))
    try {
      // A state of its own: the learner is in step 1 here, whatever the other tests did.
      const w = watch(['lab', '1', '--watch', '--for', '30', '--workspace', ws], {
        ...env,
        EBPFCNI_STATE_DIR: join(ws, '.state'),
      })
      // The starter is checked first; once it waits for a save, the save.
      await w.waitFor(/Save a file to check again/, 30_000)
      writeFileSync(
        join(ws, 'ebpfcni'),
        readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8').replace('esac\nexit 0', 'exit 0'),
      )
      await w.waitFor(/ebpfcni changed(.|\n)*Save a file to check again/, 30_000)
      const r = await w.stop()
      expect(r.exitCode).toBe(130)
      const after = r.stdout.slice(r.stdout.indexOf('ebpfcni changed'))
      expect(after).toMatch(
        /your plugin is a shell script bash can parse \[plugin\.parses\]\n\s+seen: bash -n .*syntax error/,
      )
      expect(after).toMatch(/hint: Fix the syntax error first/)
      // Nothing else ran: no other check's verdict (and its unrelated hint) follows.
      expect(after).not.toMatch(/\[cni\.|\[config\./)
      // The step's checks it never reached count as skipped (plugin.present, config.valid, cni.version, cni.errors).
      expect(after).toMatch(/step skeleton: 1 failing, 0 passing, 4 skipped/)
    } finally {
      rmSync(ws, {recursive: true, force: true})
    }
  }, 60_000)

  it('without a terminal, `lab 1` shows the first unfinished step, not one already passed', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ebpfcni-next-'))
    const cli = (args: string[]) =>
      execa('node', [cliBin, ...args], {
        reject: false,
        env: {...env, EBPFCNI_STATE_DIR: join(ws, '.state')},
        timeout: 60_000,
        stdin: 'ignore',
      })
    try {
      expect((await cli(['lab', '1', '--workspace', ws])).stdout).toMatch(/Step 1 — the skeleton/)
      copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), join(ws, 'ebpfcni'))
      copyFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/10-ebpfcni.conf'), join(ws, '10-ebpfcni.conf'))
      expect((await cli(['check', '1', '--step', 'skeleton', '--workspace', ws])).exitCode).toBe(0)
      const again = await cli(['lab', '1', '--workspace', ws])
      expect(again.stdout).toMatch(/Step 2 — ADD/)
      expect(again.stdout).toContain('ebpfcni check 1 --step add')
    } finally {
      rmSync(ws, {recursive: true, force: true})
    }
  }, 60_000)

  it('--watch --poll says it polls, and still notices a save', async () => {
    const ws = mkdtempSync(join(tmpdir(), 'ebpfcni-poll-'))
    try {
      const w = watch(['lab', '1', '--watch', '--poll', '--for', '30', '--workspace', ws], env)
      await w.waitFor(/Save a file to check again/, 30_000)
      writeFileSync(join(ws, 'ebpfcni'), readFileSync(join(ws, 'ebpfcni'), 'utf8') + '\n# edited\n')
      // The re-check runs to its verdict before Ctrl-C (nothing is interrupted half-made).
      await w.waitFor(/── ebpfcni changed \(reinstalling your plugin\)(.|\n)*Save a file to check again/, 30_000)
      const r = await w.stop()
      expect(r.exitCode).toBe(130)
      expect(r.stdout).toMatch(/polling every 0\.5 s: asked to poll/)
    } finally {
      rmSync(ws, {recursive: true, force: true})
    }
  }, 60_000)

  it('lab all --auto passes every step of every lab and leaves nothing behind', async () => {
    const r = await cli(['lab', 'all', '--auto'])
    expect(r.exitCode, r.stdout.slice(-3000)).toBe(0)
    for (const l of loadLabs())
      expect(r.stdout).toMatch(new RegExp(`lab ${l.id}\\s+✔ ${l.steps.length}/${l.steps.length} steps`))
    expect(r.stdout).toMatch(/every step passed in [\d.]+ s: this machine is ready/)
    console.log(r.stdout.split('\n').slice(-8).join('\n'))
    const dry = await cli(['reset', '--all', '--dry-run'])
    expect(dry.stdout).toMatch(/Nothing to remove/)
    expect(existsSync('/sys/fs/bpf/ebpfcni')).toBe(false)
    expect(await hostSnapshot()).toEqual(before)
  }, 240_000)
})
