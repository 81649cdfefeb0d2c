import {describe, it, expect} from 'vitest'
import {parsePodmanVersion, podmanCheckPlan, podmanVerdict, type PodmanProbe} from '../../src/pods/podman-backend.js'
import {doctorChecks} from '../../src/doctor/doctor.js'

// Debian 13's podman 5.4.2, asked for network_backend = "cni" (seen in a trixie root):
const TRIXIE_REFUSAL = 'cni support is not enabled in this build, only netavark. Got unsupported network backend "cni"'
const bookworm: PodmanProbe = {installed: true, version: '4.3.1', cni: true}
const trixie: PodmanProbe = {installed: true, version: '5.4.2', cni: false, refusal: TRIXIE_REFUSAL}

describe('podman with or without CNI: the decision from a probe', () => {
  it('reads the version podman --version prints, and nothing from garbage', () => {
    expect(parsePodmanVersion('podman version 4.3.1\n')).toBe('4.3.1')
    expect(parsePodmanVersion('podman version 5.4.2')).toBe('5.4.2')
    expect(parsePodmanVersion('bash: podman: command not found')).toBeUndefined()
  })

  it("Debian 12's podman 4.3 with the CNI backend is used, and runtime.podman runs it", () => {
    expect(podmanVerdict(bookworm)).toEqual({use: 'podman', version: '4.3.1'})
    for (const asked of [true, false])
      expect(podmanCheckPlan(podmanVerdict(bookworm), {asked, containerdInstalled: true})).toEqual({run: true})
  })

  it("Debian 13's netavark-only podman 5 is named with its version and the fix, and runtime.podman is skipped for runtime.cri", () => {
    const v = podmanVerdict(trixie)
    expect(v).toMatchObject({use: 'none', why: 'netavark-only', version: '5.4.2'})
    if (v.use !== 'none') throw new Error('unreachable')
    expect(v.message).toMatch(/^podman 5\.4\.2 is built netavark-only/)
    expect(v.fix).toContain('ebpfcni check 1 --runtime cri')
    const plan = podmanCheckPlan(v, {asked: false, containerdInstalled: true})
    expect(plan).toMatchObject({run: false})
    expect('skip' in plan && plan.skip).toMatch(
      /podman 5\.4\.2 is built netavark-only.*runtime\.cri proves your plugin/,
    )
  })

  it('a netavark-only podman and no containerd either: still a skip, saying what to install for a real runtime', () => {
    const plan = podmanCheckPlan(podmanVerdict(trixie), {asked: false, containerdInstalled: false})
    expect('skip' in plan && plan.skip).toMatch(/containerd is not installed either.*apt-get install -y containerd/)
  })

  it('asked for by --runtime podman, a netavark-only podman is a failure whose fix is --runtime cri', () => {
    const plan = podmanCheckPlan(podmanVerdict(trixie), {asked: true, containerdInstalled: true})
    expect(plan).toMatchObject({run: false, fail: expect.stringMatching(/podman 5\.4\.2 is built netavark-only/)})
    expect('fix' in plan && plan.fix).toContain('--runtime cri')
  })

  it('no podman: a skip unless asked for, then a failure naming the packages', () => {
    const v = podmanVerdict({installed: false, cni: false})
    expect(v).toMatchObject({use: 'none', why: 'not-installed'})
    expect(podmanCheckPlan(v, {asked: false, containerdInstalled: true})).toEqual({
      run: false,
      skip: 'podman is not installed (pass --runtime podman to require it)',
    })
    expect(podmanCheckPlan(v, {asked: true, containerdInstalled: true})).toMatchObject({
      fix: expect.stringContaining('apt-get install -y podman runc'),
    })
  })

  it('any other podman error is not mistaken for netavark-only: podman runs and shows its own error', () => {
    const broken: PodmanProbe = {
      installed: true,
      version: '4.3.1',
      cni: false,
      refusal: 'database configuration mismatch',
    }
    const v = podmanVerdict(broken)
    expect(v).toMatchObject({use: 'none', why: 'unusable'})
    if (v.use !== 'none') throw new Error('unreachable')
    expect(v.message).toBe('podman 4.3.1 did not start with the CNI backend: database configuration mismatch')
    expect(podmanCheckPlan(v, {asked: false, containerdInstalled: true})).toEqual({run: true})
  })

  it('doctor has the podman-cni item, optional, whose fix is the CRI path', () => {
    const item = doctorChecks().find((c) => c.id === 'podman-cni')
    expect(item?.optional).toBe(true)
    expect(item?.hint).toMatch(/no CNI at all.*ebpfcni check 1 --runtime cri/)
  })
})
