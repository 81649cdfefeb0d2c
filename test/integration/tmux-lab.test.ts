import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, cliBin, cliRunner, requireBuilt, requireRoot, repoRoot, uniq} from '../helpers/env.js'
import {getLab} from '../../src/labs/catalogue.js'

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
    // The menu offers the checks next: the cursor is on "Run this step's checks", Enter runs them.
    await waitFor(/Next: run this step's checks/)
    await waitFor(/❯ Run this step's checks/)
    at = 1

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

// The guided mode's promises (issue 34) in a real terminal 80 and 120 columns wide: nothing wider
// than the terminal (tmux -J joins what the terminal had to wrap, so a line that did not fit shows
// longer than the width), no colour with --no-color, the summary's counts, Esc leaves with exit 0.
describe('ebpfcni lab 1 keeps its promises at 80 and 120 columns (tmux)', () => {
  const t = tempStateDir()
  const env = {
    EBPFCNI_STATE_DIR: t.dir,
    EBPFCNI_WORKSPACE: join(t.dir, 'ws'),
    EBPFCNI_CNI_BIN_DIR: join(t.dir, 'bin'),
    EBPFCNI_CNI_CONF_DIR: join(t.dir, 'net.d'),
  }
  const tmux = (...args: string[]) => execa('tmux', args, {reject: false, timeout: 10_000})
  const sessions: string[] = []
  // eslint-disable-next-line no-control-regex -- colour codes are what the test looks for
  const SGR = /\u001b\[[0-9;]*m/
  /** EBPFCNI_TEST_CAPTURES=DIR keeps the screens (plain text) for the record. */
  const keep = (file: string, text: string) => {
    const dir = process.env.EBPFCNI_TEST_CAPTURES
    if (!dir) return
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, file), `${text.trimEnd()}\n`)
  }

  /** `ebpfcni lab ARGS` in a new tmux window WIDTH columns wide; bash prints the exit code after it. */
  async function start(width: number, args: string[]) {
    const name = `ebpfcni-${uniq()}-${width}`
    sessions.push(name)
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`)
    const started = await tmux(
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(width),
      '-y',
      '60',
      'env',
      '-u',
      'CI',
      '-u',
      'NO_COLOR',
      ...envArgs,
      'bash',
      '-c',
      'node "$0" lab "$@"; echo "exit=$?"; sleep 120',
      cliBin,
      ...args,
    )
    expect(started.exitCode, started.stderr).toBe(0)
    const shot = async (...flags: string[]) =>
      (await tmux('capture-pane', '-p', '-J', ...flags, '-S', '-500', '-t', name)).stdout
    const waitFor = async (re: RegExp, ms = 30_000): Promise<string> => {
      const t0 = Date.now()
      for (;;) {
        const s = await shot()
        if (re.test(s)) return s
        if (Date.now() - t0 > ms) throw new Error(`the screen never showed ${re}; it shows:\n${s}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    const keys = (...k: string[]) => tmux('send-keys', '-t', name, ...k)
    return {shot, waitFor, keys}
  }
  const tooWide = (screen: string, width: number) => screen.split('\n').filter((l) => [...l].length > width)

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    if ((await execa('which', ['tmux'], {reject: false})).exitCode !== 0)
      throw new Error('tmux is missing: apt-get install tmux (scripts/setup.sh installs it)')
  })
  afterAll(async () => {
    for (const s of sessions) await tmux('kill-session', '-t', s)
    await execa('node', [cliBin, 'reset', '--all', '--yes'], {
      reject: false,
      env: {...env, CI: 'true'},
      timeout: 60_000,
    })
    t.cleanup()
  })

  for (const [width, color] of [
    [80, false],
    [120, true],
  ] as const) {
    it(`${width} columns${color ? '' : ', --no-color'}: everything fits, words whole; the checks' summary counts the skipped; Esc leaves`, async () => {
      const lab = getLab(1)
      const ui = await start(width, color ? ['1'] : ['1', '--no-color'])
      const menu = await ui.waitFor(/Back to the list of labs \/ quit/)
      keep(`menu-${width}.txt`, menu)
      // Every entry of the menu on screen, the way out said on the prompt.
      expect(menu).toMatch(/\(Esc leaves\)/)
      expect(menu).toMatch(/❯ Open ebpfcni in/)
      expect(tooWide(menu, width)).toEqual([])
      // The goal line and step 1's first paragraph: broken at spaces only, every word whole.
      const flat = menu.replace(/\s+/g, ' ')
      expect(flat).toContain(lab.goal)
      expect(flat).toContain(
        'A CNI plugin is an executable. A container runtime (kubelet via containerd, podman, or ebpfcni itself) runs it once per pod operation',
      )
      // Step 1's table (about 155 columns on one line) drawn as a box exactly as wide as the terminal.
      const box = menu.split('\n').filter((l) => /^[┌├└│]/.test(l))
      expect(box.length).toBeGreaterThan(6)
      expect(box.every((l) => [...l].length === width)).toBe(true)
      // Colour: none with --no-color, prompts included; some without it (so the capture would show it).
      const coloured = await ui.shot('-e')
      expect(SGR.test(coloured)).toBe(color)

      // The starter fails a check: the run stops there, and the summary counts what it skipped.
      await ui.keys('Down')
      await ui.keys('Enter')
      const ran = await ui.waitFor(/✘ lab 1, step skeleton: \d+ failing, \d+ passing, \d+ skipped/)
      keep(`checks-${width}.txt`, ran.slice(ran.lastIndexOf('Then: ebpfcni check 1')))
      const [, failing, passing, skipped] = ran.match(/(\d+) failing, (\d+) passing, (\d+) skipped/)!.map(Number)
      expect(failing).toBe(1)
      expect(failing + passing + skipped).toBe(lab.steps[0].checks.length)
      expect(skipped).toBeGreaterThan(0)
      expect(ran.match(/skipped: not run/g)?.length).toBe(skipped)
      // The failing check's title once (the live list used to print it again above "seen:").
      const failed = ran.split('\n').find((l) => l.startsWith('✖'))!
      const title = failed.slice(2, failed.indexOf(' [') > 0 ? failed.indexOf(' [') : undefined).trim()
      expect(title.length).toBeGreaterThan(10)
      expect(ran.split(title).length - 1).toBe(1)
      expect(ran).toMatch(/seen: .*VERSION/)
      await ui.waitFor(/❯ Run this step's checks/)
      expect(tooWide(await ui.shot(), width)).toEqual([])
      expect(SGR.test(await ui.shot('-e'))).toBe(color)

      // Esc leaves, as the prompt says: the lab ends with exit 0, progress kept.
      await ui.keys('Escape')
      const left = await ui.waitFor(/exit=\d+/)
      expect(left).toMatch(/Left Step 1 — the skeleton: VERSION and errors \(Esc\)/)
      expect(left).toMatch(/exit=0/)
    }, 120_000)
  }

  it("lab 1 step 2's diagram lines up at 80 columns; Esc leaves the list of labs as well as a lab", async () => {
    const ui = await start(80, ['1', '--step', 'add', '--no-color'])
    const s = await ui.waitFor(/Back to the list of labs \/ quit/)
    const diagram = s.split('\n').filter((l) => /^\s*[┌│└]/.test(l))
    expect(diagram).toHaveLength(4)
    // The host box's right border in one column on every line (lines 8-9 were one to the right).
    expect(new Set(diagram.map((l) => [...l.trimEnd()].length)).size).toBe(1)
    expect(tooWide(s, 80)).toEqual([])
    await ui.keys('Escape')
    expect(await ui.waitFor(/exit=\d+/)).toMatch(/exit=0/)

    // The list of labs: one line per lab (all of them and Quit on screen), Esc leaves with exit 0.
    const list = await start(80, ['--no-color'])
    const labs = await list.waitFor(/❯ 1\. .*\n(.*\n)*\s+Quit/)
    expect(tooWide(labs, 80)).toEqual([])
    await list.keys('Escape')
    expect(await list.waitFor(/exit=\d+/)).toMatch(/exit=0/)
  }, 60_000)

  it('a command typed together with its number suggests the two apart, with exit 2', async () => {
    const r = await cliRunner(env, 30_000)(['lab1'])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/"lab1" is not an ebpfcni command\. Did you mean: ebpfcni lab 1\?/)
    expect(r.stderr).not.toMatch(/ebpfcni lab[,?]/)
  })
})
