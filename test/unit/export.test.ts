import {describe, it, expect, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {exportLabs} from '../../src/labs/export.js'
import {loadLabs} from '../../src/labs/catalogue.js'

// `ebpfcni export`: every step of every lab gets a check script that runs that step's checks, and
// the script speaks the platform's language: exit code, FAIL: line, Instruqt's fail-message.

const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-export-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

describe('ebpfcni export', () => {
  it('instruqt: a challenge per step with assignment.md and an executable check-workstation that bash parses', async () => {
    const dir = join(tmp, 'instruqt')
    const files = exportLabs('instruqt', dir)
    expect(files).toContain('track.yml')
    for (const lab of loadLabs())
      for (const step of lab.steps) {
        const d = join(dir, `${String(lab.id).padStart(2, '0')}-${lab.slug}-${step.id}`)
        const check = join(d, 'check-workstation')
        expect(statSync(check).mode & 0o111, check).toBeTruthy()
        expect(readFileSync(check, 'utf8')).toContain(`ebpfcni check ${lab.id} --step ${step.id} --json`)
        expect((await execa('bash', ['-n', check], {reject: false})).exitCode).toBe(0)
        const a = readFileSync(join(d, 'assignment.md'), 'utf8')
        expect(a).toMatch(/^---\nslug: .+\ntype: challenge\ntitle: ".+"/)
      }
  })

  it('killercoda: a scenario per lab whose index.json names each step text and verify.sh', () => {
    const dir = join(tmp, 'killercoda')
    exportLabs('killercoda', dir)
    for (const lab of loadLabs()) {
      const d = join(dir, `${String(lab.id).padStart(2, '0')}-${lab.slug}`)
      const index = JSON.parse(readFileSync(join(d, 'index.json'), 'utf8')) as {
        details: {steps: Array<{text: string; verify: string}>}
      }
      expect(index.details.steps).toHaveLength(lab.steps.length)
      for (const s of index.details.steps) {
        expect(existsSync(join(d, s.text))).toBe(true)
        expect(existsSync(join(d, s.verify))).toBe(true)
      }
    }
  })

  it('a check script exits 0 on passing checks, and 1 with FAIL: message and hint (and fail-message) on failing ones', async () => {
    const dir = join(tmp, 'run')
    exportLabs('instruqt', dir, [1])
    const script = join(dir, '01-bridge-cni-skeleton', 'check-workstation')
    const stubs = join(tmp, 'stubs')
    mkdirSync(stubs, {recursive: true})
    const stub = (name: string, body: string) => {
      writeFileSync(join(stubs, name), `#!/usr/bin/env bash\n${body}\n`)
      chmodSync(join(stubs, name), 0o755)
    }
    const report = {
      lab: 1,
      step: 'skeleton',
      passed: false,
      checks: [
        {id: 'plugin.present', title: 'the plugin is installed', status: 'pass', message: 'ok'},
        {
          id: 'cni.version',
          title: 'VERSION answers',
          status: 'fail',
          message: 'VERSION printed nothing',
          hint: 'echo the JSON',
        },
      ],
    }
    stub('ebpfcni', `echo '${JSON.stringify(report)}'; exit "\${STUB_RC:-1}"`)
    stub('fail-message', `echo "fail-message called: $*" >&2`)
    const env = {PATH: `${stubs}:${process.env.PATH}`}
    const failed = await execa('bash', [script], {reject: false, env})
    expect(failed.exitCode).toBe(1)
    expect(failed.stdout).toBe('FAIL: VERSION answers: VERSION printed nothing Hint: echo the JSON')
    expect(failed.stderr).toContain('fail-message called: FAIL: VERSION answers')
    const passed = await execa('bash', [script], {reject: false, env: {...env, STUB_RC: '0'}})
    expect([passed.exitCode, passed.stdout]).toEqual([0, ''])
  })

  it('refuses a directory that is not empty', () => {
    const dir = join(tmp, 'full')
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, 'mine'), 'x')
    expect(() => exportLabs('killercoda', dir)).toThrow(/is not empty/)
  })
})
