import {describe, it, expect, beforeEach, afterEach} from 'vitest'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PolicyStore} from '../../src/policy/store.js'
import {
  KubernetesPolicySource,
  policyFromApi,
  withNamespaceLabel,
  NAMESPACE_LABEL,
} from '../../src/policy/kubernetes-policies.js'
import {getJson, inClusterApi} from '../../src/policy/kubernetes-api.js'
import {MemoryPodSource} from '../../src/policy/pods.js'
import {fakeKubeApi, type FakeKubeApi} from '../helpers/fake-kube-api.js'

// NetworkPolicies from a Kubernetes API into the policy store, against a stand-in API on
// 127.0.0.1: scoped to their namespace, updated, removed; unsupported ones reported, never
// applied half; the API's failures said in words.

const allowSleep = {
  podSelector: {matchLabels: {app: 'httpbin'}},
  policyTypes: ['Ingress'],
  ingress: [{from: [{podSelector: {matchLabels: {app: 'sleep'}}}]}],
}

describe('NetworkPolicies from the Kubernetes API', () => {
  let dir: string
  let api: FakeKubeApi
  let store: PolicyStore
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ebpfcni-k8s-'))
    api = await fakeKubeApi()
    store = new PolicyStore(join(dir, 'policy.json'))
  })
  afterEach(async () => {
    await api.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it("a policy selects pods of its own namespace, and its from-selectors too (the API's rule)", () => {
    const spec = policyFromApi({metadata: {name: 'allow', namespace: 'shop'}, spec: allowSleep})
    expect(spec).toEqual({
      name: 'k8s.shop.allow',
      podSelector: {app: 'httpbin', [NAMESPACE_LABEL]: 'shop'},
      ingress: [{from: [{app: 'sleep', [NAMESPACE_LABEL]: 'shop'}]}],
    })
    const pods = withNamespaceLabel(
      new MemoryPodSource([
        {name: 'a', ip: '10.0.0.2', labels: {app: 'x'}, namespace: 'shop'},
        {name: 'b', ip: '10.0.0.3', labels: {}},
      ]),
    )
    expect(pods.list().map((p) => p.labels[NAMESPACE_LABEL])).toEqual(['shop', 'default'])
  })

  it('refresh puts new and changed policies, deletes the ones gone, and leaves file policies alone', async () => {
    store.putPolicy({name: 'from-a-file', podSelector: {}, ingress: []}, '/tmp/x.yaml')
    api.policies = [{namespace: 'default', name: 'allow', spec: allowSleep}]
    expect(await new KubernetesPolicySource({url: api.url}, store).refresh()).toEqual({
      put: ['k8s.default.allow'],
      deleted: [],
      skipped: [],
    })
    const source = new KubernetesPolicySource({url: api.url}, store)
    expect((await source.refresh()).put, 'an unchanged policy is not written again').toEqual([])
    api.policies = [{namespace: 'default', name: 'allow', spec: {...allowSleep, ingress: []}}]
    expect((await source.refresh()).put).toEqual(['k8s.default.allow'])
    expect(store.read().policies['k8s.default.allow'].spec.ingress).toEqual([])
    api.policies = []
    expect((await source.refresh()).deleted).toEqual(['k8s.default.allow'])
    expect(Object.keys(store.read().policies)).toEqual(['from-a-file'])
  })

  it('an unsupported policy is reported, not applied; one that turns unsupported keeps its last version', async () => {
    const source = new KubernetesPolicySource({url: api.url}, store)
    api.policies = [
      {namespace: 'default', name: 'egress', spec: {podSelector: {}, policyTypes: ['Egress'], egress: [{}]}},
      {namespace: 'default', name: 'allow', spec: allowSleep},
    ]
    const r = await source.refresh()
    expect(r.put).toEqual(['k8s.default.allow'])
    expect(r.skipped).toHaveLength(1)
    expect(r.skipped[0]).toMatch(/^default\/egress: spec\.egress: egress rules are not supported/)
    api.policies = [
      {
        namespace: 'default',
        name: 'allow',
        spec: {...allowSleep, ingress: [{from: [{namespaceSelector: {matchLabels: {team: 'a'}}}]}]},
      },
    ]
    const r2 = await source.refresh()
    expect(r2.skipped[0]).toMatch(
      /default\/allow: .*namespaceSelector is not supported.*\(its last supported version stays\)/,
    )
    expect(r2.deleted).toEqual([])
    expect(store.read().policies['k8s.default.allow'].spec.ingress[0].from).toEqual([
      {app: 'sleep', [NAMESPACE_LABEL]: 'default'},
    ])
  })

  it("the API's failures in words: a refusal with its Status message, junk, nobody listening", async () => {
    const source = new KubernetesPolicySource({url: api.url}, store)
    api.failWith = {
      status: 403,
      body: JSON.stringify({
        kind: 'Status',
        message:
          'networkpolicies.networking.k8s.io is forbidden: User "system:serviceaccount:kube-system:default" cannot list resource "networkpolicies"',
      }),
    }
    await expect(source.refresh()).rejects.toThrow(
      /GET \/apis\/networking\.k8s\.io\/v1\/networkpolicies: 403 Forbidden: networkpolicies.* is forbidden/,
    )
    api.failWith = {status: 200, body: '<html>a proxy page</html>'}
    await expect(source.refresh()).rejects.toThrow(/the answer is not JSON \("<html>a proxy page/)
    api.failWith = {status: 200, body: '{"kind":"PodList"}'}
    await expect(source.refresh()).rejects.toThrow(/is not a NetworkPolicyList/)
    const url = api.url
    await api.close()
    await expect(getJson({url}, '/apis/networking.k8s.io/v1/networkpolicies')).rejects.toThrow(/ECONNREFUSED/)
    api = await fakeKubeApi() // for afterEach
  })

  it('in-cluster: the service host and the mounted service account, or a clear error outside a pod', () => {
    expect(() => inClusterApi({}, dir)).toThrow(/not in a Kubernetes pod: KUBERNETES_SERVICE_HOST is not set/)
    expect(() => inClusterApi({KUBERNETES_SERVICE_HOST: '10.96.0.1'}, dir)).toThrow(/no service-account CA/)
    writeFileSync(join(dir, 'ca.crt'), 'CA')
    expect(inClusterApi({KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '6443'}, dir)).toEqual({
      url: 'https://10.96.0.1:6443',
      tokenFile: join(dir, 'token'),
      ca: Buffer.from('CA'),
    })
  })

  it('sends the token it reads from the token file on every request (the kubelet rotates it)', async () => {
    const seen: string[] = []
    const {createServer} = await import('node:http')
    const server = createServer((req, res) => {
      seen.push(String(req.headers.authorization))
      res.writeHead(200, {'content-type': 'application/json'})
      res.end('{"items":[]}')
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as {port: number}).port}`
    const tokenFile = join(dir, 'token')
    writeFileSync(tokenFile, 'one\n')
    await getJson({url, tokenFile}, '/x')
    writeFileSync(tokenFile, 'two')
    await getJson({url, tokenFile}, '/x')
    await new Promise((r) => server.close(r))
    expect(seen).toEqual(['Bearer one', 'Bearer two'])
  })
})
