import {describe, it, expect} from 'vitest'
import {
  describeMissing,
  FORWARDING_HELPERS,
  missingHelpers,
  probeForwardingHelpers,
} from '../../src/bpf/helper-probe.js'
import {doctorChecks} from '../../src/doctor/doctor.js'
import {kernelAtLeast} from '../../src/doctor/probes.js'
import {fail, noneFailed, runCheck, type CheckResult} from '../../src/checks/engine.js'

describe('doctor item logic', () => {
  it('compares kernel releases numerically', () => {
    expect(kernelAtLeast('6.1.0-18-amd64', 5, 15)).toBe(true)
    expect(kernelAtLeast('5.15.0', 5, 15)).toBe(true)
    expect(kernelAtLeast('5.10.209', 5, 15)).toBe(false)
    expect(kernelAtLeast('5.9.0', 5, 15)).toBe(false)
    expect(kernelAtLeast('garbage', 5, 15)).toBe(false)
  })

  it('has a fix for every item, naming the Debian package for tools', () => {
    const items = doctorChecks()
    for (const i of items) expect(i.hint, i.id).toBeTruthy()
    const byId = Object.fromEntries(items.map((i) => [i.id, i]))
    expect(byId.clang.hint).toContain('clang')
    expect(byId.bpftool.hint).toContain('bpftool')
    expect(byId.jq.hint).toContain('apt-get install -y jq')
    expect(byId.podman.optional).toBe(true)
    expect(byId.bpffs.optional).toBeFalsy()
  })

  it('runs on the check engine: an optional item that fails warns, a required one fails, each with its fix', async () => {
    const podman = doctorChecks().find((c) => c.id === 'podman')!
    const missing = {...podman, run: async () => fail('podman not found')}
    const warned = await runCheck(missing, undefined)
    expect(warned).toMatchObject({id: 'podman', status: 'warn', message: 'podman not found'})
    expect(warned.hint).toContain('apt-get install -y podman')
    const failed = await runCheck({...missing, optional: false}, undefined)
    expect(failed.status).toBe('fail')
  })

  it('passes overall only when no required item fails; optional items only warn', () => {
    const r = (status: CheckResult['status']): CheckResult => ({id: 'x', title: 'x', status, message: ''})
    expect(noneFailed([r('pass'), r('warn')])).toBe(true)
    expect(noneFailed([r('pass'), r('fail')])).toBe(false)
  })
})

describe('forwarding helpers (lab 5)', () => {
  it('names each helper a kernel lacks, with the version that added it', () => {
    const probe = {helpers: {sched_cls_available_helpers: ['bpf_fib_lookup', 'bpf_skb_set_tunnel_key']}}
    const missing = missingHelpers(probe)
    expect(missing.map((h) => h.name)).toEqual(['bpf_redirect_peer', 'bpf_redirect_neigh'])
    expect(describeMissing(missing[0])).toBe(
      "bpf_redirect_peer (kernel 5.10+, for delivery straight into a pod's network namespace)",
    )
    expect(missingHelpers({}).length).toBe(FORWARDING_HELPERS.length)
  })

  it('this kernel (Debian 12 runs 6.1) has all of them, as bpftool probes them', async () => {
    const p = await probeForwardingHelpers()
    expect(p).toEqual({missing: []})
  })
})
