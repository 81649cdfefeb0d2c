import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, requireBuilt, requireRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly} from '../helpers/host.js'
import {preparePolicyNode} from '../helpers/policy-node.js'

// Lab 4, step 2's text: without policyTypes, Kubernetes sets Ingress whatever the rules, so a
// NetworkPolicy with only a podSelector isolates the pods it selects. Real pods, the step's
// reference program, `policy apply` as the learner types it, and probes that must fail or pass.

describe('a NetworkPolicy with only a podSelector isolates its pods', () => {
  const t = tempStateDir()
  const id = uniq()
  const pinDir = `/sys/fs/bpf/ebpfcni-pi${id}`
  const bridge = `pi${id}`
  const cli = cliRunner({EBPFCNI_STATE_DIR: t.dir, CI: 'true'}, 60_000)
  const pin = ['--pin-dir', pinDir]
  const conf = join(t.dir, 'net.d', '10-ebpfcni.conf')
  const reaches = async (from: string, to: string) => (await cli(['pod', 'probe', from, to])).exitCode === 0
  const policy = (spec: string) => {
    const file = join(t.dir, 'db-closed.yaml')
    writeFileSync(
      file,
      `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-closed}\nspec:\n  podSelector: {matchLabels: {app: db}}\n${spec}`,
    )
    return file
  }

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    await preparePolicyNode(cli, {dir: t.dir, name: `iso${id}`, bridge, podcidr: '10.239.0.0/24', pinDir})
    for (const [name, app] of [
      ['db', 'db'],
      ['api', 'api'],
    ]) {
      const r = await cli([
        'pod',
        'add',
        name,
        '--label',
        `app=${app}`,
        '--config',
        conf,
        '--cni-path',
        join(t.dir, 'bin'),
      ])
      expect(r.exitCode, r.stderr).toBe(0)
    }
  }, 120_000)
  afterAll(async () => {
    await cli(['reset', '--yes'])
    await deleteLinkQuietly(bridge)
    t.cleanup()
  }, 60_000)

  it('no policyTypes, no ingress: api no longer reaches db; db still reaches api; delete opens db again', async () => {
    expect(await reaches('api', 'db')).toBe(true)
    const applied = await cli(['policy', 'apply', policy(''), ...pin])
    expect(applied.exitCode, applied.stderr).toBe(0)
    expect(await reaches('api', 'db')).toBe(false)
    expect(await reaches('db', 'api')).toBe(true) // api is selected by no policy; db's replies come back
    const list = JSON.parse((await cli(['policy', 'list', '--json', ...pin])).stdout) as {isolated: string[]}
    expect(list.isolated).toEqual([expect.stringMatching(/^db \(10\.239\.0\.\d+\)$/)])
    expect((await cli(['policy', 'delete', 'db-closed', ...pin])).exitCode).toBe(0)
    expect(await reaches('api', 'db')).toBe(true)
  }, 90_000)

  it('the same policy asking for Egress is refused whole, naming the field; db stays open', async () => {
    const r = await cli(['policy', 'apply', policy('  policyTypes: [Egress]\n'), ...pin])
    expect(r.exitCode).toBe(2)
    expect(r.stderr).toMatch(/spec\.policyTypes: Egress is not supported/)
    expect(await reaches('api', 'db')).toBe(true)
  }, 60_000)
})
