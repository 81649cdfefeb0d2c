import {describe, it, expect} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import chalk from 'chalk'
import {repoRoot} from '../helpers/env.js'
import {renderMarkdown} from '../../src/ui/markdown.js'
import {editorCommand} from '../../src/ui/lab-menu.js'
import {closestCommands, distance} from '../../src/hooks/command-not-found.js'
import {debugFromEnv, applyColorChoice} from '../../src/ui/base-command.js'
import {resolvePin} from '../../src/bpf/programs.js'

// The CLI surface without root: help text as oclif renders it, the small rules behind flags and
// errors, and step texts rendered as Markdown.

interface ManifestCommand {
  summary?: string
  description?: string
  examples?: string[]
  flags: Record<string, {char?: string; name: string}>
  enableJsonFlag?: boolean
}
const manifest = JSON.parse(readFileSync(join(repoRoot, 'oclif.manifest.json'), 'utf8')) as {
  commands: Record<string, ManifestCommand>
}
const commands = Object.entries(manifest.commands)

describe('help reads well', () => {
  it('every command has a summary of at most 80 characters, an example, and no hard line breaks in its description', () => {
    const problems = commands.flatMap(([id, c]) =>
      [
        !c.summary
          ? `${id}: no summary`
          : c.summary.length > 80
            ? `${id}: summary of ${c.summary.length} characters`
            : '',
        c.description?.includes('\n') ? `${id}: line break in the description` : '',
        !c.examples?.length ? `${id}: no example` : '',
      ].filter(Boolean),
    )
    expect(problems).toEqual([])
    expect(commands.length).toBeGreaterThan(25)
  })

  it('one meaning per short flag: -w is always --workspace, -s --step, -y --yes', () => {
    const meaning = new Map<string, Set<string>>()
    for (const [, c] of commands)
      for (const f of Object.values(c.flags))
        if (f.char) meaning.set(f.char, (meaning.get(f.char) ?? new Set()).add(f.name))
    for (const [char, names] of meaning) expect([...names], `-${char}`).toHaveLength(1)
    expect([...meaning.get('w')!]).toEqual(['workspace'])
  })

  it('every command that reports can print JSON (--json)', () => {
    const reporting = [
      'check',
      'status',
      'hint',
      'solution',
      'doctor',
      'conform',
      'reset',
      'pod:add',
      'pod:del',
      'pod:list',
      'pod:probe',
      'pod:check',
      'bpf:build',
      'bpf:load',
      'bpf:attach',
      'bpf:detach',
      'bpf:maps',
      'bpf:progs',
      'bpf:trace',
      'policy:deny',
      'policy:allow',
      'policy:remove',
      'policy:apply',
      'policy:delete',
      'policy:list',
      'policy:watch',
      'metrics',
      'lab',
    ]
    const without = reporting.filter((id) => !manifest.commands[id] || !('json' in manifest.commands[id].flags))
    expect(without).toEqual([])
  })
})

describe('small rules', () => {
  it('DEBUG=0 and DEBUG=false do not turn stack traces on; DEBUG=1 does', () => {
    expect(debugFromEnv('0')).toBe(false)
    expect(debugFromEnv('false')).toBe(false)
    expect(debugFromEnv(undefined)).toBe(false)
    expect(debugFromEnv('1')).toBe(true)
    expect(debugFromEnv('ebpfcni')).toBe(true)
  })

  it('NO_COLOR (non-empty) and --no-color turn colour off', () => {
    const level = chalk.level
    try {
      chalk.level = 2
      applyColorChoice([], {NO_COLOR: ''})
      expect(chalk.level).toBe(2)
      applyColorChoice([], {NO_COLOR: '1'})
      expect(chalk.level).toBe(0)
      chalk.level = 2
      applyColorChoice(['status', '--no-color'], {})
      expect(chalk.level).toBe(0)
    } finally {
      chalk.level = level
    }
  })

  it('VISUAL wins over EDITOR, and an editor may carry arguments', () => {
    expect(editorCommand({EDITOR: 'nano'})).toEqual(['nano', []])
    expect(editorCommand({EDITOR: 'nano', VISUAL: 'code --wait'})).toEqual(['code', ['--wait']])
    expect(editorCommand({EDITOR: '"/opt/my editor/bin/ed" -n'})).toEqual(['/opt/my editor/bin/ed', ['-n']])
    expect(editorCommand({})).toEqual(['vi', []])
  })

  it('a typo finds the command meant', () => {
    expect(distance('chek', 'check')).toBe(1)
    expect(closestCommands('chek', ['check', 'hint', 'status'])).toEqual(['check'])
    expect(closestCommands('pod:ad', ['pod:add', 'pod:del', 'check'])[0]).toBe('pod:add')
    expect(closestCommands('xyzzy', ['check', 'hint'])).toEqual([])
  })

  it('a pinned object is a path or a name under the pin dir', () => {
    expect(resolvePin('counter', '/sys/fs/bpf/ebpfcni')).toBe('/sys/fs/bpf/ebpfcni/counter')
    expect(resolvePin('/sys/fs/bpf/x/y', '/sys/fs/bpf/ebpfcni')).toBe('/sys/fs/bpf/x/y')
  })
})

describe('step texts as Markdown', () => {
  const plain = (f: () => string): string => {
    const level = chalk.level
    chalk.level = 0
    try {
      return f()
    } finally {
      chalk.level = level
    }
  }

  it('renders a table and a list, and keeps code blocks exactly as written', () => {
    const out = plain(() =>
      renderMarkdown(
        '# Title\n\nA *word* and **more**.\n\n- one\n- two\n\n| map | key |\n|---|---|\n| counter | __be32 |\n\n```bash\nebpfcni check 1 --step add | jq .\n```\n',
      ),
    )
    expect(out).toMatch(/^Title/)
    expect(out).toMatch(/\* one\n\s+\* two/)
    expect(out).toMatch(/│ map\s+│ key\s+│/)
    expect(out).toMatch(/│ counter │ __be32 │/)
    expect(out).not.toMatch(/\*\*|\|---/)
    // Copy-pasteable: the command line as written, no box or colour inside.
    expect(out.split('\n')).toContain('  ebpfcni check 1 --step add | jq .')
    // eslint-disable-next-line no-control-regex -- an ANSI escape is what the test looks for
    expect(out).not.toMatch(/\u001b\[/)
  })

  it("lab 3 step 1's table is a table on screen", () => {
    const text = readFileSync(join(repoRoot, 'labs/03-maps-monitoring/steps/01-counter.md'), 'utf8')
    expect(text).toMatch(/^\|.*\|$/m)
    const out = plain(() => renderMarkdown(text))
    expect(out).toMatch(/┌/)
    expect(out).not.toMatch(/^\|.*\|$/m)
  })
})

describe('next steps named by the layers below the CLI', () => {
  it("every next step has its command line, with the binary's name", async () => {
    const {nextStepText} = await import('../../src/ui/next-steps.js')
    const steps = [
      'build-program',
      'load-program',
      'list-maps',
      'load-policy-program',
      'list-rules',
      'add-pod',
      'list-pods',
      'diagnose',
      'install-config',
      'reset',
    ] as const
    for (const s of steps) expect(nextStepText({do: s}, 'xcni')).toMatch(/xcni /)
    expect(nextStepText({do: 'delete-pod', pod: 'web'})).toBe('ebpfcni pod del web')
  })
})
