import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, cliBin, requireBuilt, requireRoot, repoRoot, uniq} from '../helpers/env.js'

// A real terminal: tmux runs `ebpfcni lab 1`, keys walk the menu as a learner would (hint,
// apply the solution, run the checks), and the screen shows the checks passing.

describe('ebpfcni lab 1 in a real terminal (tmux)', () => {
  const t = tempStateDir()
  const session = `ebpfcni-${uniq()}`
  const env = {
    EBPFCNI_STATE_DIR: t.dir,
    EBPFCNI_WORKSPACE: join(t.dir, 'ws'),
    EBPFCNI_CNI_BIN_DIR: join(t.dir, 'bin'),
    EBPFCNI_CNI_CONF_DIR: join(t.dir, 'net.d'),
  }
  const tmux = (...args: string[]) => execa('tmux', args, {reject: false, timeout: 10_000})
  const screen = async (): Promise<string> =>
    (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session)).stdout
  const waitFor = async (re: RegExp, ms = 20_000): Promise<string> => {
    const t0 = Date.now()
    for (;;) {
      const s = await screen()
      if (re.test(s)) return s
      if (Date.now() - t0 > ms) throw new Error(`the screen never showed ${re}; it shows:\n${s}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  /**
   * Choose a menu entry by its position. The cursor stays on the last action chosen (the check,
   * edit, check loop), so move from there: inquirer starts at the top only the first time.
   */
  let at = 0
  const choose = async (index: number) => {
    const key = index > at ? 'Down' : 'Up'
    for (let i = 0; i < Math.abs(index - at); i++) await tmux('send-keys', '-t', session, key)
    await tmux('send-keys', '-t', session, 'Enter')
    at = index
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    if ((await execa('which', ['tmux'], {reject: false})).exitCode !== 0)
      throw new Error('tmux is missing: apt-get install tmux (scripts/setup.sh installs it)')
  })
  afterAll(async () => {
    await tmux('kill-session', '-t', session)
    await execa('node', [cliBin, 'reset', '--all', '--yes'], {
      reject: false,
      env: {...env, CI: 'true'},
      timeout: 60_000,
    })
    t.cleanup()
  })

  it('walks the menu: next hint, apply the solution, run the checks; they pass on screen', async () => {
    // Multiple arguments: tmux runs the command directly, no shell. CI is unset so the tool sees a terminal.
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    const started = await tmux(
      'new-session',
      '-d',
      '-s',
      session,
      '-x',
      '160',
      '-y',
      '50',
      'env',
      '-u',
      'CI',
      ...envArgs,
      'node',
      cliBin,
      'lab',
      '1',
    )
    expect(started.exitCode, started.stderr).toBe(0)
    await waitFor(/Run this step's checks/)
    expect(await screen()).toMatch(/Step 1 — the skeleton/)

    await choose(3) // Show the next hint
    await waitFor(/hint 1\/3:/)

    await choose(5) // Apply the solution for this step
    await waitFor(/Replace .* with the solution\?/)
    await tmux('send-keys', '-t', session, 'Enter') // default: yes
    await waitFor(/Applied the solution\. Backups: .*ebpfcni\.bak-/)
    expect(readFileSync(join(env.EBPFCNI_WORKSPACE, 'ebpfcni'), 'utf8')).toBe(
      readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/skeleton/ebpfcni'), 'utf8'),
    )

    await choose(1) // Run this step's checks
    const s = await waitFor(/lab 1, step skeleton: all 4 checks pass/, 60_000)
    expect(s).toMatch(/VERSION/) // check titles in the live list
    await waitFor(/Continue to Step 2/) // offered once the step passes

    // edit, check, watch, hint, diff, apply, continue, text, quit: the cursor is on "check" (1);
    // the list wraps, so Up twice from there is "quit".
    await tmux('send-keys', '-t', session, 'Up')
    await tmux('send-keys', '-t', session, 'Up')
    await tmux('send-keys', '-t', session, 'Enter')
    const t0 = Date.now()
    while ((await tmux('has-session', '-t', session)).exitCode === 0 && Date.now() - t0 < 10_000)
      await new Promise((r) => setTimeout(r, 100))
    expect((await tmux('has-session', '-t', session)).exitCode, 'ebpfcni lab did not exit on quit').not.toBe(0)
    // Progress belongs to the workspace: one file for it under the state dir's progress/.
    const files = readdirSync(join(t.dir, 'progress'))
    expect(files).toHaveLength(1)
    expect(JSON.parse(readFileSync(join(t.dir, 'progress', files[0]), 'utf8')).labs['1'].steps.skeleton.done).toBe(true)
  }, 120_000)

  it('Ctrl-C at the menu leaves quietly with exit 130, no "unexpected error"', async () => {
    const name = `${session}-c`
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    // bash prints the exit code and keeps the pane open to be read; the script is a constant, the paths are arguments.
    const started = await tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      '160',
      '-y',
      '50',
      'env',
      '-u',
      'CI',
      ...envArgs,
      'bash',
      '-c',
      'node "$0" lab 1; echo "exit=$?"; sleep 60',
      cliBin,
    )
    expect(started.exitCode, started.stderr).toBe(0)
    try {
      const shot = async () => (await tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', name)).stdout
      const t0 = Date.now()
      while (!/Run this step's checks/.test(await shot())) {
        if (Date.now() - t0 > 20_000) throw new Error(`no menu:\n${await shot()}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      await tmux('send-keys', '-t', name, 'C-c')
      while (!/exit=\d+/.test(await shot())) {
        if (Date.now() - t0 > 30_000) throw new Error(`no exit:\n${await shot()}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      const s = await shot()
      expect(s).toMatch(/exit=130/)
      expect(s).not.toMatch(/unexpected error|force closed|please report/)
    } finally {
      await tmux('kill-session', '-t', name)
    }
  }, 60_000)
})
