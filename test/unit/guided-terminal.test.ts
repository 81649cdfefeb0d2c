import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import chalk from 'chalk'
import {repoRoot} from '../helpers/env.js'
import {fitColumns, fitTable, stripAnsi, visibleWidth, wrapLine} from '../../src/ui/wrap.js'
import {fitCodeLine, renderMarkdown} from '../../src/ui/markdown.js'
import {renderSummary} from '../../src/ui/check-report.js'
import {promptTheme} from '../../src/ui/prompts.js'
import {splitArgument, closestCommands} from '../../src/hooks/command-not-found.js'
import {getLab, type LabStep} from '../../src/labs/catalogue.js'
import {ensureWorkspace} from '../../src/labs/workspace.js'
import {LabSession} from '../../src/labs/session.js'
import {ProgressStore} from '../../src/host/progress.js'
import {menuLoop, type MenuAction, type MenuView} from '../../src/labs/menu-loop.js'
import type {CheckReport} from '../../src/checks/engine.js'

// The guided mode's promises, without a terminal: text fitted to a width (never broken mid-word),
// tables reflowed or listed, the summary's counts, the menu's colours and its suggestion after
// "Apply the solution". test/integration/tmux-lab.test.ts checks the same in a real terminal.

const withLevel = <T>(level: 0 | 1, f: () => T): T => {
  const before = chalk.level
  chalk.level = level
  try {
    return f()
  } finally {
    chalk.level = before
  }
}
// eslint-disable-next-line no-control-regex -- colour codes are what these tests look for
const SGR = /\u001b\[[0-9;]*m/
const words = (s: string): string[] => stripAnsi(s).split(/\s+/).filter(Boolean)
const labsDir = join(repoRoot, 'labs')
const stepTexts = readdirSync(labsDir).flatMap((lab) =>
  readdirSync(join(labsDir, lab, 'steps')).map((f) => ({
    name: `${lab}/${f}`,
    text: readFileSync(join(labsDir, lab, 'steps', f), 'utf8'),
  })),
)

describe('lines wrapped to the terminal', () => {
  const text =
    '  1. VERSION answers with the cniVersion it was given on stdin, and the versions it speaks, for a config.'

  it('breaks only at spaces, keeps every word, indents a list item under its text', () => {
    const lines = wrapLine(text, 40)
    expect(lines.length).toBeGreaterThan(2)
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40)
    expect(lines.slice(1).every((l) => l.startsWith('     ') && l[5] !== ' ')).toBe(true)
    expect(words(lines.join('\n'))).toEqual(words(text))
    // A line that fits is left exactly as it is (code-like spacing included).
    expect(wrapLine('a  b', 10)).toEqual(['a  b'])
  })

  it('a word longer than the indented line moves left to fit; longer than the width it stays whole', () => {
    const json = '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1"]}'
    const lines = wrapLine(`  1. answers ${json} for a config`, json.length + 2)
    expect(lines).toContain(`  ${json}`)
    const huge = 'x'.repeat(50)
    expect(wrapLine(`see ${huge} there`, 20)).toEqual(['see', huge, 'there'])
  })

  it('colour codes take no room and carry over the break: each line closes what it opened', () => {
    const styled = withLevel(1, () => `plain ${chalk.cyan('one two three four five six')} end`)
    const lines = wrapLine(styled, 16)
    expect(lines.map(visibleWidth).every((w) => w <= 16)).toBe(true)
    expect(words(lines.join(' '))).toEqual(words(styled))
    expect(lines[0].endsWith('\u001b[0m')).toBe(true)
    expect(lines[1].startsWith('\u001b[36m')).toBe(true)
  })
})

describe('tables fit the terminal', () => {
  const headers = ['channel', 'carries']
  const rows = [
    ['environment', 'CNI_COMMAND (ADD, DEL, CHECK, VERSION), CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS'],
    ['stdin', 'the network config'],
  ]

  it('a table that fits keeps one line per row; a wider one reflows its cells at words', () => {
    const wide = withLevel(0, () => fitTable(headers, rows, 200)).split('\n')
    expect(wide).toHaveLength(7)
    const narrow = withLevel(0, () => fitTable(headers, rows, 60)).split('\n')
    expect(narrow.length).toBeGreaterThan(7)
    for (const l of narrow) expect(visibleWidth(l)).toBe(60)
    expect(words(narrow.join(' ').replace(/[│┌┐└┘├┤┬┴┼─]/g, ' '))).toEqual(
      words([...headers, ...rows.flat()].join(' ')),
    )
  })

  it('columns are never narrower than their longest word; when those do not fit, a list instead', () => {
    expect(fitColumns(headers, rows, 30)).toEqual([11, 19])
    expect(fitColumns(headers, rows, 20)).toBeUndefined()
    const list = withLevel(0, () => fitTable(headers, rows, 26))
    expect(list).not.toMatch(/[┌│]/)
    expect(list.split('\n')[0]).toBe('environment')
    expect(list).toMatch(/^ {2}carries: CNI_COMMAND/m)
    for (const l of list.split('\n')) expect(visibleWidth(l)).toBeLessThanOrEqual(26)
  })
})

describe('step texts at 80 and 120 columns', () => {
  it('lab 1 step 1: the table is about 155 columns wide on one line, and fits 80 and 120 as a box', () => {
    const text = readFileSync(join(labsDir, '01-bridge-cni/steps/01-skeleton.md'), 'utf8')
    const wide = withLevel(0, () => renderMarkdown(text, 1000))
    expect(
      Math.max(
        ...wide
          .split('\n')
          .filter((l) => l.startsWith('┌'))
          .map(visibleWidth),
      ),
    ).toBeGreaterThan(150)
    for (const width of [80, 120]) {
      const out = withLevel(0, () => renderMarkdown(text, width))
      const box = out.split('\n').filter((l) => /^[┌│├└]/.test(l))
      expect(box.length).toBeGreaterThan(5)
      for (const l of box) expect(visibleWidth(l)).toBe(width)
      // The paragraph the terminal used to break mid-word ("podm|an"): one paragraph, broken at spaces.
      expect(out.replace(/\n/g, ' ')).toMatch(/containerd, podman, or ebpfcni itself\) runs it once/)
    }
  })

  it('every step text: prose and tables within the width, no word lost or split, code lines as written', () => {
    const over: string[] = []
    for (const {name, text} of stepTexts) {
      const whole = withLevel(0, () => renderMarkdown(text, 10_000))
      for (const width of [80, 120]) {
        const out = withLevel(0, () => renderMarkdown(text, width))
        // The same words as on an endless line (tables aside, drawn per column; a code line's
        // comment may move above it, hence sorted).
        if (!/^\|/m.test(text)) expect(words(out).sort(), `${name} at ${width}`).toEqual(words(whole).sort())
        const code = new Set(
          [...text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n').map((l) => l.trim())),
        )
        for (const l of out.split('\n'))
          if (visibleWidth(l) > width && !code.has(l.trim())) over.push(`${name} at ${width}: ${l}`)
      }
    }
    expect(over).toEqual([])
  })

  it('a code line too wide moves its trailing comment above it (still valid); one without a comment stays', () => {
    expect(fitCodeLine('  ebpfcni bpf build                      # clang -O2 -g -target bpf', 40)).toEqual([
      '  # clang -O2 -g -target bpf',
      '  ebpfcni bpf build',
    ])
    expect(fitCodeLine('  if (x > data_end)   /* the verifier learns */', 30)).toEqual([
      '  /* the verifier learns */',
      '  if (x > data_end)',
    ])
    const long = '  ebpfcni pod add p1 --node a && ebpfcni pod add p2 --node b'
    expect(fitCodeLine(long, 40)).toEqual([long])
    expect(fitCodeLine('  echo "a # b"', 5)).toEqual(['  echo "a # b"'])
  })

  it('diagrams in code blocks line up: every line of a box is as wide as its top (lab 1 step 2 was one off)', () => {
    const off: string[] = []
    for (const {name, text} of stepTexts)
      for (const m of text.matchAll(/```[^\n]*\n([\s\S]*?)```/g)) {
        let box: string[] = []
        for (const l of [...m[1].split('\n'), '']) {
          if (/^\s*[┌│├└]/.test(l)) box.push(l.trimEnd())
          else {
            if (new Set(box.map(visibleWidth)).size > 1) off.push(`${name}:\n${box.join('\n')}`)
            box = []
          }
        }
      }
    expect(off).toEqual([])
  })
})

describe('the check summary', () => {
  const report: CheckReport = {
    lab: 1,
    step: 'skeleton',
    passed: false,
    durationMs: 300,
    checks: [
      {id: 'plugin.present', title: 'present', status: 'pass', message: 'ok'},
      {id: 'config.valid', title: 'valid', status: 'pass', message: 'ok'},
      {id: 'cni.version', title: 'version', status: 'fail', message: 'VERSION failed'},
    ],
  }
  const planned = ['plugin.present', 'config.valid', 'cni.version', 'cni.errors']

  it('counts the checks the run did not reach as skipped, as the live list shows them', () => {
    const line = withLevel(0, () => renderSummary(report, planned))
    expect(line).toBe('✘ lab 1, step skeleton: 1 failing, 2 passing, 1 skipped (0.3 s)')
    // Without the plan (ebpfcni check runs every check), only the report counts.
    expect(withLevel(0, () => renderSummary(report))).toMatch(/1 failing, 2 passing, 0 skipped/)
    const skipped = {...report, checks: [...report.checks, {id: 'x', title: 'x', status: 'skip' as const, message: ''}]}
    expect(withLevel(0, () => renderSummary(skipped, planned))).toMatch(/2 skipped/)
  })
})

describe('the menu follows --no-color', () => {
  const styles = (): string[] => {
    const t = promptTheme()
    return [
      t.prefix.idle,
      t.prefix.done,
      ...Object.entries(t.style)
        .filter(([k]) => k !== 'keysHelpTip')
        .map(([, f]) => (f as (s: string) => string)('x')),
      t.style.keysHelpTip([['↑↓', 'navigate']]),
    ]
  }
  it("draws the prompts with chalk: colour at level 1, none once --no-color set chalk's level to 0", () => {
    expect(withLevel(1, styles).some((s) => SGR.test(s))).toBe(true)
    expect(withLevel(0, styles).filter((s) => SGR.test(s))).toEqual([])
  })
})

describe('a mistyped command', () => {
  const ids = ['lab', 'check', 'hint', 'bpf:build', 'status']
  it('run together with its argument suggests the two apart: lab1 is "lab 1", not "lab"', () => {
    expect(splitArgument('lab1', ids)).toBe('lab 1')
    expect(splitArgument('check-2', ids)).toBe('check 2')
    expect(closestCommands('lab1', ids)).toEqual(['lab'])
    // Not a command and a number: no such split (the closest commands say the rest).
    expect(splitArgument('labz1', ids)).toBeUndefined()
    expect(splitArgument('status', ids)).toBeUndefined()
  })
})

describe('after "Apply the solution" the menu offers the checks', () => {
  let dir: string
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ebpfcni-guided-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('the cursor starts on "run the checks" once the solution is in place, not after a no', async () => {
    const lab = getLab(1)
    ensureWorkspace(lab, dir)
    const session = new LabSession(lab, dir, new ProgressStore(join(dir, 'progress.json')))
    const suggested: Array<MenuAction | undefined> = []
    const run = async (actions: MenuAction[], answer: boolean) => {
      const view: Partial<MenuView> = {
        choose: async (_step, state) => (suggested.push(state.suggested), actions.shift() ?? 'quit'),
        confirmApply: async () => answer,
        showApplied: () => undefined,
        showHint: () => undefined,
        showError: (err) => {
          throw err
        },
      }
      await menuLoop(session, lab.steps[0] as LabStep, view as MenuView)
    }
    await run(['apply', 'hint'], false)
    expect(suggested).toEqual([undefined, undefined, undefined])
    suggested.length = 0
    // A yes applies and loads (lab 1's solution is a file: nothing on the host), then suggests the checks.
    await run(['apply', 'quit'], true)
    expect(suggested).toEqual([undefined, 'check'])
    expect(readFileSync(join(dir, 'ebpfcni'), 'utf8')).toBe(
      readFileSync(join(labsDir, '01-bridge-cni/solution/skeleton/ebpfcni'), 'utf8'),
    )
  })
})
