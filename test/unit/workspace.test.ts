import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {getLab} from '../../src/labs/catalogue.js'
import {ensureWorkspace, inWorkspace} from '../../src/labs/workspace.js'
import {LabSession} from '../../src/labs/session.js'
import {ProgressStore} from '../../src/host/progress.js'

// Moving between labs in the one workspace folder: the learner's work is never lost, and a lab's
// new scaffolding (its TODO markers) reaches them.
describe('the workspace across labs', () => {
  let dir: string
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ebpfcni-ws-'))))
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it("lab 2 → 3: the program gets lab 3's starter (TODO(counter)), lab 2's is kept beside it; the plugin carries over", () => {
    ensureWorkspace(getLab(2), dir)
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), '// my lab 2 program\n')
    writeFileSync(join(dir, 'ebpfcni'), '#!/bin/bash\n# my plugin\n')
    const changes = ensureWorkspace(getLab(3), dir)
    expect(read('ebpfcni.bpf.c')).toMatch(/TODO\(counter\)/)
    expect(read('ebpfcni.bpf.c.lab2')).toBe('// my lab 2 program\n')
    expect(read('ebpfcni')).toBe('#!/bin/bash\n# my plugin\n')
    expect(changes.map((c) => c.action)).toEqual(['set-aside', 'created'])
  })

  it("back to lab 2 restores the learner's lab 2 program; lab 3's edits are kept as .lab3; forward again restores them", () => {
    ensureWorkspace(getLab(2), dir)
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), '// mine, lab 2\n')
    ensureWorkspace(getLab(3), dir)
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), '// mine, lab 3\n')
    ensureWorkspace(getLab(2), dir)
    expect(read('ebpfcni.bpf.c')).toBe('// mine, lab 2\n')
    expect(read('ebpfcni.bpf.c.lab3')).toBe('// mine, lab 3\n')
    ensureWorkspace(getLab(3), dir)
    expect(read('ebpfcni.bpf.c')).toBe('// mine, lab 3\n')
    expect(read('ebpfcni.bpf.c.lab2')).toBe('// mine, lab 2\n')
  })

  it("reopening the same lab changes nothing; an untouched starter is simply replaced by the next lab's", () => {
    ensureWorkspace(getLab(3), dir)
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), '// work in progress\n')
    expect(ensureWorkspace(getLab(3), dir)).toEqual([])
    expect(read('ebpfcni.bpf.c')).toBe('// work in progress\n')
    rmSync(join(dir, 'ebpfcni.bpf.c'))
    ensureWorkspace(getLab(3), dir)
    // Lab 3's starter, untouched: nothing of the learner's to keep, so nothing is set aside.
    expect(ensureWorkspace(getLab(4), dir).filter((c) => c.action === 'set-aside')).toEqual([])
    expect(read('ebpfcni.bpf.c')).toMatch(/TODO\(networkpolicy\)/)
    expect(existsSync(join(dir, 'ebpfcni.bpf.c.lab3'))).toBe(false)
  })

  it("lab 3 --fresh: the starter again, the learner's file kept as a .bak", () => {
    ensureWorkspace(getLab(3), dir)
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), '// broken beyond repair\n')
    const changes = ensureWorkspace(getLab(3), dir, {fresh: true})
    expect(read('ebpfcni.bpf.c')).toMatch(/TODO\(counter\)/)
    const bak = readdirSync(dir).find((f) => f.startsWith('ebpfcni.bpf.c.bak-'))
    expect(bak && read(bak)).toBe('// broken beyond repair\n')
    expect(changes.some((c) => c.action === 'replaced')).toBe(true)
  })

  it("a workspace from before the records: its files are taken to be the opened lab's, nothing moves", () => {
    writeFileSync(join(dir, 'ebpfcni.bpf.c'), '// older workspace\n')
    ensureWorkspace(getLab(3), dir)
    expect(read('ebpfcni.bpf.c')).toBe('// older workspace\n')
    expect(existsSync(join(dir, 'ebpfcni.bpf.c.lab3'))).toBe(false)
  })
})

describe('hints and messages name the workspace in use', () => {
  it('another workspace replaces ~/ebpfcni-lab in the text; the default keeps it', () => {
    const text = 'ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace; edit ~/ebpfcni-lab/ebpfcni'
    expect(inWorkspace(text, '/tmp/mine')).toBe(
      'ebpfcni bpf load /tmp/mine/ebpfcni.bpf.o --replace; edit /tmp/mine/ebpfcni',
    )
    expect(inWorkspace(text, join(homedir(), 'ebpfcni-lab'))).toBe(text)
    expect(inWorkspace(text, join(homedir(), 'ebpfcni-lab', '.'))).toBe(text)
  })

  it('a hint naming the default workspace, seen from another workspace, names that one', () => {
    // Lab 2 attach's hint named ~/ebpfcni-lab/ebpfcni.bpf.o until it said `bpf load --replace` as the
    // step text does (walker b, round 8); no lab hint names the workspace now, so the step is made here.
    const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-ws-'))
    try {
      const real = getLab(2)
      const attach = {
        ...real.steps.find((st) => st.id === 'attach')!,
        hints: ['ebpfcni bpf load ~/ebpfcni-lab/ebpfcni.bpf.o --replace'],
      }
      const lab = {...real, steps: real.steps.map((st) => (st.id === attach.id ? attach : st))}
      const s = new LabSession(lab, dir, new ProgressStore(join(dir, 'progress.json')))
      const shown = s.nextHints(attach)
      expect(shown[0]).toContain(`${dir}/ebpfcni.bpf.o`)
      expect(shown.join(' ')).not.toContain('~/ebpfcni-lab')
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
