import {describe, it, expect, afterEach} from 'vitest'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {repoRoot} from '../helpers/env.js'

// scripts/check-structure.mjs guards the import graph in the test command: it must pass on the
// project, and fail, naming the file, on a cycle, an upward import and host/ importing net/, on a
// second copy of @oclif/core (imported by name instead of the bundled #oclif); on a
// lab reaching into another lab's internals, and on the engine naming a lab.
const check = (src?: string) =>
  execa('node', [join(repoRoot, 'scripts/check-structure.mjs'), ...(src ? ['--src', src] : [])], {reject: false})

describe('the structure check', () => {
  let dir: string | undefined
  afterEach(() => dir && rmSync(dir, {recursive: true, force: true}))

  it('passes on src/', async () => {
    const r = await check()
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/no cycle, no upward import/)
  })

  it('fails on a cycle, an upward import, and host/ importing net/', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ebpfcni-structure-'))
    const src = join(dir, 'src')
    for (const d of ['host', 'net', 'labs', 'cni']) mkdirSync(join(src, d), {recursive: true})
    writeFileSync(join(src, 'labs/a.ts'), "import {b} from './b.js'\nexport const a = 1\n")
    writeFileSync(join(src, 'labs/b.ts'), "import {a} from './a.js'\nexport const b = 2\n")
    writeFileSync(join(src, 'cni/up.ts'), "import {a} from '../labs/a.js'\n")
    writeFileSync(join(src, 'net/ip.ts'), 'export const ip = 1\n')
    writeFileSync(join(src, 'host/x.ts'), "import {ip} from '../net/ip.js'\n")
    writeFileSync(join(src, 'cni/flags.ts'), "import {Flags} from '@oclif/core'\n")
    const r = await check(src)
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/import cycle: src\/labs\/a\.ts ↔ src\/labs\/b\.ts/)
    expect(r.stderr).toMatch(/upward import: src\/cni\/up\.ts \(cni\) imports src\/labs\/a\.ts \(labs\)/)
    expect(r.stderr).toMatch(/upward import: src\/host\/x\.ts \(host\) imports src\/net\/ip\.ts \(net\)/)
    expect(r.stderr).toMatch(/src\/cni\/flags\.ts imports '@oclif\/core': import '#oclif'/)
  })

  it("fails on a lab importing another lab's internals or the commands, and on the engine naming a lab", async () => {
    dir = mkdtempSync(join(tmpdir(), 'ebpfcni-structure-'))
    const src = join(dir, 'src')
    for (const d of ['src/labs', 'src/checks', 'src/commands', 'labs/01-a/checks', 'labs/02-b/checks'])
      mkdirSync(join(dir, d), {recursive: true})
    writeFileSync(join(src, 'checks/engine.ts'), 'export const fail = 1\n')
    writeFileSync(join(src, 'commands/lab.ts'), 'export const run = 1\n')
    writeFileSync(join(src, 'labs/registry.ts'), "import {x} from '../../labs/01-a/module.js'\n")
    writeFileSync(join(dir, 'labs/01-a/context.ts'), "import {fail} from '#checks/engine.js'\nexport const c = fail\n")
    writeFileSync(join(dir, 'labs/01-a/module.ts'), "import {c} from './context.js'\nexport const x = c\n")
    writeFileSync(join(dir, 'labs/01-a/checks/add.ts'), 'export const add = 1\n')
    // lab 2 may use lab 1's context; not its check files, not a command
    writeFileSync(
      join(dir, 'labs/02-b/context.ts'),
      "import {c} from '../01-a/context.js'\nimport {add} from '../01-a/checks/add.js'\nimport {run} from '#commands/lab.js'\n",
    )
    const r = await check(src)
    expect(r.exitCode).toBe(1)
    expect(r.stderr).toMatch(/another lab's internals: labs\/02-b\/context\.ts imports labs\/01-a\/checks\/add\.ts/)
    expect(r.stderr).not.toMatch(/labs\/02-b\/context\.ts imports labs\/01-a\/context\.ts/)
    expect(r.stderr).toMatch(
      /upward import: labs\/02-b\/context\.ts \(lab\) imports src\/commands\/lab\.ts \(commands\)/,
    )
    expect(r.stderr).toMatch(/the engine names a lab: src\/labs\/registry\.ts imports labs\/01-a\/module\.ts/)
  })
})
