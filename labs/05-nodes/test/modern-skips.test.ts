import {describe, it, expect, afterEach} from 'vitest'
import {runCheck, CheckSkip} from '#checks/engine.js'
import {configOption, kernelConfig, netkitFromKernel, netkitSupport} from '#bpf/netkit.js'
import {MODERN_CHECKS, modernProbes} from '../checks/modern.js'
import type {Lab5Context} from '../context.js'

// Lab 5 step 5 on machines that cannot run it: below kernel 6.6 every check of the step is skipped
// naming 6.6 and 6.7, and netkit is skipped with what is missing (the release, CONFIG_NETKIT,
// iproute2). Such a skip says the machine lacks it (unsupported: the step still counts as done);
// a skip for the learner's work does not. The probes' answers are put in by hand: no root needed.

const real = {...modernProbes}
const byId = (id: string) => MODERN_CHECKS.find((c) => c.id === id)!
/** A context whose cluster never comes: a check that reaches it skips the ordinary way. */
const noCluster = {
  sameNode: () => Promise.reject(new CheckSkip('needs a pod on each node (ADD failed)')),
  ready: () => Promise.reject(new CheckSkip('needs a pod on each node (ADD failed)')),
} as unknown as Lab5Context

afterEach(() => Object.assign(modernProbes, real))

describe('lab 5 step 5 (modern attach): skipped, never failed, where the kernel lacks tcx or netkit', () => {
  it('kernel 6.1 (no tcx): every check of the step is skipped, naming 6.6 and 6.7, as unsupported', async () => {
    modernProbes.tcx = () => ({
      ok: false,
      detail: 'kernel 6.1.0-18-amd64 refuses a tcx link (EINVAL (22)): tcx needs 6.6 or newer',
    })
    for (const c of MODERN_CHECKS) {
      const r = await runCheck(c, noCluster)
      expect(r.status, c.id).toBe('skip')
      expect(r.unsupported, c.id).toBe(true)
      expect(r.message).toMatch(/lab 5 step 5 needs kernel 6\.6 \(tcx links\) and 6\.7 \(netkit\); this is /)
      expect(r.message).toMatch(/tcx needs 6\.6 or newer/)
    }
  })

  it('tcx but no CONFIG_NETKIT (this VM): nodes.netkit is skipped with the config option and a kernel that has it', async () => {
    modernProbes.tcx = () => ({ok: true, detail: 'tcx links (6.6+)'})
    modernProbes.netkit = async () =>
      netkitFromKernel('6.18.44-fc-v1272', 'CONFIG_NET_XGRESS=y\n# CONFIG_NETKIT is not set\n')!
    const r = await runCheck(byId('nodes.netkit'), noCluster)
    expect(r).toMatchObject({status: 'skip', unsupported: true})
    expect(r.message).toMatch(
      /netkit cannot run on this machine: kernel 6\.18\.44-fc-v1272 is built without netkit .*CONFIG_NETKIT is not set.*CONFIG_NETKIT=y, as Debian 13's 6\.12/,
    )
  })

  it('6.6 (tcx, no netkit yet): nodes.netkit names 6.7; the tcx checks go on to the cluster', async () => {
    modernProbes.tcx = () => ({ok: true, detail: 'tcx links (6.6+)'})
    modernProbes.netkit = async () => netkitFromKernel('6.6.13-amd64', undefined)!
    const nk = await runCheck(byId('nodes.netkit'), noCluster)
    expect(nk).toMatchObject({status: 'skip', unsupported: true})
    expect(nk.message).toMatch(/netkit needs kernel 6\.7 or newer; this is 6\.6\.13-amd64/)
    // Broken input: no pods, so the tcx check cannot run: an ordinary skip, which does not count as done.
    const owned = await runCheck(byId('nodes.tcx-owned'), noCluster)
    expect(owned.status).toBe('skip')
    expect(owned.unsupported).toBeUndefined()
    expect(owned.message).toMatch(/needs a pod on each node/)
  })

  it("the kernel's release and config decide before anything is made", () => {
    expect(netkitFromKernel('6.12.43+deb13-amd64', 'CONFIG_NETKIT=y\n')).toBeUndefined()
    expect(netkitFromKernel('6.1.0-18-amd64', 'CONFIG_NETKIT=y\n')?.reason).toMatch(/needs kernel 6\.7/)
    expect(configOption('CONFIG_NETKIT=y\n', 'CONFIG_NETKIT')).toBe('set')
    expect(configOption('# CONFIG_NETKIT is not set\n', 'CONFIG_NETKIT')).toBe('not set')
    expect(configOption('CONFIG_NETKIT_X=y\n', 'CONFIG_NETKIT')).toBeUndefined()
    expect(configOption(undefined, 'CONFIG_NETKIT')).toBeUndefined()
  })

  it.runIf(process.getuid?.() === 0 && configOption(kernelConfig(), 'CONFIG_NETKIT') === 'not set')(
    'on this machine (a kernel without CONFIG_NETKIT) the real probe says so',
    async () => {
      const s = await netkitSupport()
      expect(s.ok).toBe(false)
      expect(s.reason).toMatch(/built without netkit .*CONFIG_NETKIT is not set/)
    },
  )
})
