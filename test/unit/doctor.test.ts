import {describe, it, expect} from 'vitest'
import {kernelAtLeast, doctorItems, doctorPassed, type DoctorResult} from '../../src/labs/doctor.js'

describe('doctor item logic', () => {
  it('compares kernel releases numerically', () => {
    expect(kernelAtLeast('6.1.0-18-amd64', 5, 15)).toBe(true)
    expect(kernelAtLeast('5.15.0', 5, 15)).toBe(true)
    expect(kernelAtLeast('5.10.209', 5, 15)).toBe(false)
    expect(kernelAtLeast('5.9.0', 5, 15)).toBe(false)
    expect(kernelAtLeast('garbage', 5, 15)).toBe(false)
  })

  it('has a fix for every item, naming the Debian package for tools', () => {
    const items = doctorItems()
    for (const i of items) expect(i.fix, i.id).toBeTruthy()
    const byId = Object.fromEntries(items.map((i) => [i.id, i]))
    expect(byId.clang.fix).toContain('clang')
    expect(byId.bpftool.fix).toContain('bpftool')
    expect(byId.jq.fix).toContain('apt-get install -y jq')
    expect(byId.podman.required).toBe(false)
    expect(byId.bpffs.required).toBe(true)
  })

  it('passes overall only when no required item fails; optional items only warn', () => {
    const r = (status: DoctorResult['status'], required: boolean): DoctorResult => ({
      id: 'x',
      title: 'x',
      required,
      status,
      detail: '',
    })
    expect(doctorPassed([r('pass', true), r('warn', false)])).toBe(true)
    expect(doctorPassed([r('pass', true), r('fail', true)])).toBe(false)
  })
})
