import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {policyFile} from '../../src/ui/policy-flags.js'

// Walked: `ebpfcni policy apply policy.yaml` outside the workspace said only "ENOENT".
describe('policy apply FILE: where the file is read', () => {
  let dir: string
  let ws: string
  let elsewhere: string
  const cwd = process.cwd()
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ebpfcni-policy-file-'))
    ws = join(dir, 'ws')
    elsewhere = join(dir, 'elsewhere')
    mkdirSync(ws)
    mkdirSync(elsewhere)
    writeFileSync(join(ws, 'policy.yaml'), 'x')
    writeFileSync(join(elsewhere, 'mine.yaml'), 'x')
    process.chdir(elsewhere)
  })
  afterAll(() => {
    process.chdir(cwd)
    rmSync(dir, {recursive: true, force: true})
  })

  it('a file found where it is given is taken as given, without a note', () => {
    expect(policyFile('mine.yaml', ws)).toEqual({path: 'mine.yaml'})
  })

  it("a relative file not found here is the workspace's, and the note says so", () => {
    const r = policyFile('policy.yaml', ws)
    expect(r.path).toBe(join(ws, 'policy.yaml'))
    expect(r.note).toMatch(/^policy\.yaml is not in .*elsewhere: applying .*ws\/policy\.yaml \(your workspace's\)$/)
  })

  it('found in neither: the error names both places', () => {
    expect(() => policyFile('nope.yaml', ws)).toThrow(
      /^cannot read nope\.yaml: no such file in .*elsewhere, nor in your workspace \(.*ws\/nope\.yaml\)$/,
    )
    // An absolute path is not looked for in the workspace: the service's own error names it.
    expect(policyFile(join(dir, 'absent.yaml'), ws)).toEqual({path: join(dir, 'absent.yaml')})
  })
})
