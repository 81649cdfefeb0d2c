import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

// A stand-in for the Kubernetes API, as `kubectl proxy` serves it (plain HTTP on 127.0.0.1, no
// token): the NetworkPolicyList the node's policy controller reads, and the ServiceList and
// EndpointSliceList a Services agent reads, with items the test sets.
// What it answers is the API's shape for that list (apiVersion, kind, metadata, items without
// apiVersion/kind); anything else is a 404 Status, as the API server answers.

export interface FakeKubeApi {
  url: string
  /** The NetworkPolicies to list, as a test sets them (namespace, name, spec). */
  policies: Array<{namespace: string; name: string; spec: unknown}>
  /** The Services and EndpointSlices to list, as the API returns items (metadata, spec / endpoints, ports). */
  services: unknown[]
  endpointSlices: unknown[]
  /** Answer every request with this status and body instead (e.g. 401), until unset. */
  failWith?: {status: number; body: string}
  requests: number
  close(): Promise<void>
}

export async function fakeKubeApi(): Promise<FakeKubeApi> {
  const api = {policies: [], services: [], endpointSlices: [], requests: 0} as unknown as FakeKubeApi
  const server: Server = createServer((req, res) => {
    api.requests++
    if (api.failWith) {
      res.writeHead(api.failWith.status, {'content-type': 'application/json'})
      return res.end(api.failWith.body)
    }
    if (req.method === 'GET' && req.url === '/apis/networking.k8s.io/v1/networkpolicies') {
      res.writeHead(200, {'content-type': 'application/json'})
      return res.end(
        JSON.stringify({
          apiVersion: 'networking.k8s.io/v1',
          kind: 'NetworkPolicyList',
          metadata: {resourceVersion: String(api.requests)},
          items: api.policies.map((p, i) => ({
            metadata: {name: p.name, namespace: p.namespace, uid: `uid-${i}`, resourceVersion: '1', generation: 1},
            spec: p.spec,
          })),
        }),
      )
    }
    const lists: Record<string, {apiVersion: string; kind: string; items: () => unknown[]}> = {
      '/api/v1/services': {apiVersion: 'v1', kind: 'ServiceList', items: () => api.services},
      '/apis/discovery.k8s.io/v1/endpointslices': {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSliceList',
        items: () => api.endpointSlices,
      },
    }
    const list = req.method === 'GET' ? lists[req.url ?? ''] : undefined
    if (list) {
      res.writeHead(200, {'content-type': 'application/json'})
      return res.end(
        JSON.stringify({
          apiVersion: list.apiVersion,
          kind: list.kind,
          metadata: {resourceVersion: String(api.requests)},
          items: list.items(),
        }),
      )
    }
    res.writeHead(404, {'content-type': 'application/json'})
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        message: 'the server could not find the requested resource',
        reason: 'NotFound',
        code: 404,
      }),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  api.close = () => new Promise((r) => server.close(() => r()))
  return api
}
