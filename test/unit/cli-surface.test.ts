import {describe, it, expect} from 'vitest'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import chalk from 'chalk'
import {repoRoot} from '../helpers/env.js'
import {renderMarkdown} from '../../src/ui/markdown.js'
import {editorCommand} from '../../src/ui/lab-menu.js'
import {closestCommands, distance} from '../../src/hooks/command-not-found.js'
import {debugFromEnv, applyColorChoice, BaseCommand, BUG_EXIT_CODE} from '../../src/ui/base-command.js'
import {Config, Errors} from '@oclif/core'
import {UserError} from '../../src/host/errors.js'
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

  it('emphasis and code inside list items are rendered, not shown as typed, in every step text', () => {
    const item = plain(() => renderMarkdown('1. **VERSION** prints `x` and *this*\n2. two\n'))
    expect(item).toMatch(/1\. VERSION prints x and this/)
    const labsDir = join(repoRoot, 'labs')
    const raw = readdirSync(labsDir).flatMap((lab) =>
      readdirSync(join(labsDir, lab, 'steps')).flatMap((f) =>
        renderMarkdown(readFileSync(join(labsDir, lab, 'steps', f), 'utf8'))
          .split('\n')
          .filter((l) => /\*\*[^*\s][^*]*\*\*/.test(l))
          .map((l) => `${lab}/${f}: ${l.trim()}`),
      ),
    )
    expect(raw).toEqual([])
  })

  it("a step text's table (lab 4 identity's maps) is a table on screen", () => {
    const text = readFileSync(join(repoRoot, 'labs/04-security-policy/steps/05-identity.md'), 'utf8')
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

describe('exit codes tell a usage error from a bug', () => {
  class Probe extends BaseCommand {
    async run(): Promise<void> {}
  }
  const catchWith = async (err: Error): Promise<{code: number | string | undefined; stderr: string}> => {
    const config = await Config.load(repoRoot)
    const cmd = new Probe([], config)
    const write = process.stderr.write.bind(process.stderr)
    let stderr = ''
    process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write
    const before = process.exitCode
    try {
      await cmd.catch(err)
      return {code: process.exitCode, stderr}
    } finally {
      process.stderr.write = write
      process.exitCode = before
    }
  }

  it('a user mistake exits 2, a CLI usage error 2, a bug in ebpfcni 70 with where to report it', async () => {
    expect((await catchWith(new UserError('no such lab'))).code).toBe(2)
    expect((await catchWith(new Errors.CLIError('Nonexistent flag: --nope'))).code).toBe(2)
    const bug = await catchWith(new TypeError("Cannot read properties of undefined (reading 'x')"))
    expect(bug.code).toBe(BUG_EXIT_CODE)
    expect(BUG_EXIT_CODE).toBe(70)
    expect(bug.stderr).toMatch(/this looks like a bug in ebpfcni/)
  })

  it('every positional argument ignores stdin (oclif reads a missing one from a pipe otherwise)', async () => {
    const dir = join(repoRoot, 'src/commands')
    const files = readdirSync(dir, {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('.ts'))
    const args: Array<{cmd: string; name: string; ignoreStdin?: boolean}> = []
    for (const f of files) {
      const cmd = (await import(join(dir, f))) as {default: {args?: Record<string, {ignoreStdin?: boolean}>}}
      for (const [name, a] of Object.entries(cmd.default.args ?? {}))
        args.push({cmd: f, name, ignoreStdin: a.ignoreStdin})
    }
    expect(args.length).toBeGreaterThan(10)
    expect(args.filter((a) => a.ignoreStdin !== true).map((a) => `${a.cmd} ${a.name}`)).toEqual([])
  })
})

describe('bpf maps --set', () => {
  it('a number too large for the value is a usage error naming the size, not a RangeError', async () => {
    const {parseValue} = await import('../../src/bpf/map-codec.js')
    expect(() => parseValue('5000000000', 4)).toThrow(UserError)
    expect(() => parseValue('5000000000', 4)).toThrow(/value 5000000000 does not fit the map's 4-byte value/)
    expect(parseValue('4294967295', 4).readUInt32LE(0)).toBe(4294967295)
    expect(parseValue('5000000000', 8).readBigUInt64LE(0)).toBe(5000000000n)
    expect(() => parseValue('18446744073709551616', 8)).toThrow(/8-byte value/)
  })
})

describe('hints wrap at words', () => {
  it('never breaks a word, keeps every word, indents the lines after the first', async () => {
    const {wrapWords} = await import('../../src/ui/render.js')
    const text = 'Return TC_ACT_SHOT to drop in a TC program: XDP_DROP is 1, which TC reads as TC_ACT_RECLASSIFY.'
    const out = wrapWords(text, 30)
    const lines = out.split('\n')
    expect(lines.length).toBeGreaterThan(2)
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(30)
    expect(lines.slice(1).every((l) => l.startsWith('  '))).toBe(true)
    expect(out.split(/\s+/).filter(Boolean)).toEqual(text.split(' '))
  })
})

describe('the plain commands behind ebpfcni bpf and pod', () => {
  it('name the real tools with the real arguments', async () => {
    const {plainCommands} = await import('../../src/ui/same-as.js')
    expect(plainCommands.attachXdp('veth1', '/sys/fs/bpf/ebpfcni/xdp_prog', 'generic')).toEqual([
      'ip link set dev veth1 xdpgeneric pinned /sys/fs/bpf/ebpfcni/xdp_prog',
    ])
    expect(plainCommands.attachTc('veth1', '/p/to_pod', 'egress')).toEqual([
      'tc qdisc add dev veth1 clsact',
      'tc filter add dev veth1 egress bpf direct-action pinned /p/to_pod',
    ])
    expect(plainCommands.dumpMap('/sys/fs/bpf/ebpfcni/counter')).toEqual([
      'bpftool map dump pinned /sys/fs/bpf/ebpfcni/counter',
    ])
    expect(
      plainCommands.cniCall('ADD', '/opt/cni/bin/ebpfcni', '/etc/cni/net.d/10-ebpfcni.conf', 'c1', '/run/netns/a'),
    ).toEqual([
      'CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/a CNI_IFNAME=eth0 CNI_PATH=/opt/cni/bin /opt/cni/bin/ebpfcni < /etc/cni/net.d/10-ebpfcni.conf',
    ])
  })
})
