import {describe, it, expect} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseNetworkPolicy, matches, unmatchedSelectors} from '../../src/policy/networkpolicy.js'
import {resolve, labelsKey, VERDICT, IDENTITY_HOST} from '../../src/policy/resolve.js'
import {repoRoot} from '../helpers/env.js'

const ORIGINAL = readFileSync(join(repoRoot, 'labs/04-security-policy/policy.yaml'), 'utf8')
const np = (spec: string, name = 'p') =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}}\nspec:\n${spec}`

describe('NetworkPolicy parsing', () => {
  it('reads the original workshop policy', () => {
    expect(parseNetworkPolicy(ORIGINAL)).toEqual({
      name: 'httpbin-allow-sleep',
      podSelector: {app: 'httpbin'},
      ingress: [{from: [{app: 'sleep'}]}],
    })
  })

  it('an empty podSelector selects all; no ingress denies all; a rule without from allows all', () => {
    expect(parseNetworkPolicy(np('  podSelector: {}\n'))).toEqual({name: 'p', podSelector: {}, ingress: []})
    expect(parseNetworkPolicy(np('  podSelector: {}\n  ingress:\n    - {}\n')).ingress).toEqual([{}])
  })

  it.each([
    ['  podSelector: {}\n  egress: []\n', /spec\.egress: egress rules are not supported/],
    ['  podSelector: {}\n  policyTypes: [Egress]\n', /spec\.policyTypes: Egress is not supported/],
    [
      '  podSelector: {matchExpressions: []}\n',
      /spec\.podSelector\.matchExpressions: matchExpressions is not supported/,
    ],
    [
      '  podSelector: {}\n  ingress:\n    - from: [{ipBlock: {cidr: 10.0.0.0/8}}]\n',
      /spec\.ingress\[0\]\.from\[0\]\.ipBlock: ipBlock is not supported/,
    ],
    [
      '  podSelector: {}\n  ingress:\n    - ports: [{port: http}]\n',
      /spec\.ingress\[0\]\.ports\[0\]\.port: named ports/,
    ],
    [
      '  podSelector: {}\n  ingress:\n    - ports: [{port: 80, endPort: 90}]\n',
      /spec\.ingress\[0\]\.ports\[0\]\.endPort: endPort \(port ranges\) is not supported/,
    ],
    [
      '  podSelector: {}\n  ingress:\n    - ports: [{protocol: SCTP, port: 80}]\n',
      /spec\.ingress\[0\]\.ports\[0\]\.protocol: "SCTP" is not supported/,
    ],
    ['  ingress: []\n', /spec\.podSelector: is required/],
  ])('refuses %j naming the field', (spec, message) => {
    expect(() => parseNetworkPolicy(np(spec), 'x.yaml')).toThrow(message)
  })

  it('refuses the wrong kind, a bad name and several documents', () => {
    expect(() =>
      parseNetworkPolicy('apiVersion: networking.k8s.io/v1\nkind: Pod\nmetadata: {name: a}\nspec: {podSelector: {}}\n'),
    ).toThrow(/kind: is "Pod"/)
    expect(() => parseNetworkPolicy(np('  podSelector: {}\n', 'Not_A_Name'))).toThrow(/metadata\.name/)
    expect(() => parseNetworkPolicy(`${ORIGINAL}\n---\n${ORIGINAL}`)).toThrow(/holds 2 YAML documents/)
  })

  // The examples and field documentation of the Kubernetes NetworkPolicy concept page.
  it('Kubernetes semantics: from: [] and a missing from are all sources; ports: [] and missing ports are all ports', () => {
    const emptyFrom = parseNetworkPolicy(np('  podSelector: {matchLabels: {app: db}}\n  ingress:\n    - from: []\n'))
    const noFrom = parseNetworkPolicy(
      np('  podSelector: {matchLabels: {app: db}}\n  ingress:\n    - ports: [{port: 5432}]\n'),
    )
    const emptyPorts = parseNetworkPolicy(
      np(
        '  podSelector: {matchLabels: {app: db}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: api}}}]\n      ports: []\n',
      ),
    )
    expect(emptyFrom.ingress).toEqual([{}])
    expect(noFrom.ingress).toEqual([{ports: [{protocol: 'TCP', port: 5432}]}])
    expect(emptyPorts.ingress).toEqual([{from: [{app: 'api'}]}])
    const pods = [
      {name: 'db', ip: '10.0.0.2', labels: {app: 'db'}},
      {name: 'x', ip: '10.0.0.3', labels: {}},
    ]
    // from: [] lets a pod with no labels at all in, on every port.
    expect(resolve('ip-pair', pods, [emptyFrom], []).pairs.get('10.0.0.3>10.0.0.2')).toBe(VERDICT.allow)
  })

  it('Kubernetes examples: "default deny all ingress" isolates every pod; "allow all ingress" (ingress: [{}]) lets everyone in', () => {
    const pods = [
      {name: 'a', ip: '10.0.0.2', labels: {app: 'a'}},
      {name: 'b', ip: '10.0.0.3', labels: {app: 'b'}},
    ]
    const denyAll = parseNetworkPolicy(np('  podSelector: {}\n  policyTypes: [Ingress]\n', 'default-deny-ingress'))
    const d = resolve('ip-pair', pods, [denyAll], [])
    expect([...d.isolated].sort()).toEqual(['10.0.0.2', '10.0.0.3'])
    expect(d.pairs.size).toBe(0)
    const allowAll = parseNetworkPolicy(
      np('  podSelector: {}\n  ingress:\n    - {}\n  policyTypes: [Ingress]\n', 'allow-all-ingress'),
    )
    const a = resolve('ip-pair', pods, [denyAll, allowAll], [])
    expect(a.pairs.get('10.0.0.2>10.0.0.3')).toBe(VERDICT.allow)
    expect(a.pairs.get('10.0.0.3>10.0.0.2')).toBe(VERDICT.allow)
    // "allow all" admits pods; from: [] admits every source, the node included.
    expect(
      resolve('ip-pair', pods, [allowAll], [], {nodeAddressesOf: () => ['10.0.0.1']}).pairs.get('10.0.0.1>10.0.0.2'),
    ).toBe(VERDICT.allow)
  })

  it('a policy with only a podSelector (no policyTypes, no ingress) isolates its pods: Kubernetes sets Ingress whatever the rules', () => {
    const pods = [
      {name: 'db', ip: '10.0.0.2', labels: {app: 'db'}},
      {name: 'api', ip: '10.0.0.3', labels: {app: 'api'}},
    ]
    const only = parseNetworkPolicy(np('  podSelector: {matchLabels: {app: db}}\n', 'db-closed'))
    expect(only).toEqual({name: 'db-closed', podSelector: {app: 'db'}, ingress: []})
    const r = resolve('ip-pair', pods, [only], [], {nodeAddressesOf: () => ['10.0.0.1']})
    expect([...r.isolated]).toEqual(['10.0.0.2'])
    // Nothing lets api in; only the node (the kubelet's probes) is allowed; api itself stays open.
    expect(r.pairs.get('10.0.0.3>10.0.0.2')).toBeUndefined()
    expect([...r.pairs].filter(([, v]) => v === VERDICT.allow).map(([k]) => k)).toEqual(['10.0.0.1>10.0.0.2'])
    // The same with policyTypes spelled out is the same policy; Egress is refused, not ignored.
    expect(
      parseNetworkPolicy(np('  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress]\n', 'db-closed')),
    ).toEqual(only)
    expect(() =>
      parseNetworkPolicy(np('  podSelector: {matchLabels: {app: db}}\n  policyTypes: [Ingress, Egress]\n'), 'x.yaml'),
    ).toThrow(/spec\.policyTypes: Egress is not supported/)
  })

  it('reads ports (TCP by default)', () => {
    expect(
      parseNetworkPolicy(
        np(
          '  podSelector: {}\n  ingress:\n    - from: [{podSelector: {matchLabels: {a: b}}}]\n      ports: [{port: 80}, {protocol: UDP, port: 53}]\n',
        ),
      ).ingress,
    ).toEqual([
      {
        from: [{a: 'b'}],
        ports: [
          {protocol: 'TCP', port: 80},
          {protocol: 'UDP', port: 53},
        ],
      },
    ])
  })

  it('matches labels as a subset', () => {
    expect(matches({app: 'a'}, {app: 'a', tier: 'x'})).toBe(true)
    expect(matches({app: 'a'}, {app: 'b'})).toBe(false)
    expect(matches({}, {})).toBe(true)
  })
})

describe('resolving policies to map entries', () => {
  const pods = [
    {name: 'httpbin', ip: '10.0.0.2', labels: {app: 'httpbin'}},
    {name: 'sleep', ip: '10.0.0.3', labels: {app: 'sleep'}},
    {name: 'sleep2', ip: '10.0.0.4', labels: {app: 'sleep'}},
    {name: 'other', ip: '10.0.0.5', labels: {}},
  ]
  const policy = parseNetworkPolicy(ORIGINAL)

  it('ip-pair: allows each sleep pod to httpbin, one direction only, and the node; isolates httpbin only', () => {
    const d = resolve('ip-pair', pods, [policy], [], {
      nodeAddressesOf: (ip) => (ip.startsWith('10.0.0.') ? ['10.0.0.1'] : []),
    })
    expect([...d.isolated]).toEqual(['10.0.0.2'])
    expect(Object.fromEntries(d.pairs)).toEqual({
      '10.0.0.3>10.0.0.2': 2,
      '10.0.0.4>10.0.0.2': 2,
      '10.0.0.1>10.0.0.2': 2,
    })
  })

  // The old design wrote a reverse ALLOW for every allowed pair, on every port: with sleep isolated
  // by a second policy, httpbin could reach sleep on any port. Replies now come through conntrack.
  it('ports: the allowed pair is limited to its ports, and nothing is written in the reverse direction', () => {
    const web = parseNetworkPolicy(
      np(
        '  podSelector: {matchLabels: {app: httpbin}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: sleep}}}]\n      ports: [{port: 80}]\n',
      ),
    )
    const isolateSleep = parseNetworkPolicy(
      np('  podSelector: {matchLabels: {app: sleep}}\n  policyTypes: [Ingress]\n', 'sleep-isolated'),
    )
    const d = resolve('ip-pair', pods.slice(0, 2), [web, isolateSleep], [])
    expect(Object.fromEntries(d.portPairs)).toEqual({'10.0.0.3>10.0.0.2>tcp/80': 2})
    expect(Object.fromEntries(d.pairs)).toEqual({})
    expect([...d.isolated].sort()).toEqual(['10.0.0.2', '10.0.0.3'])
  })

  it('hand-written rules override what a policy allows; unknown names are refused', () => {
    const d = resolve('ip-pair', pods, [policy], [{from: 'sleep', to: 'httpbin', verdict: 'deny'}])
    expect(d.pairs.get('10.0.0.3>10.0.0.2')).toBe(VERDICT.deny)
    expect(
      resolve('ip-pair', pods, [], [{from: '192.168.1.1', to: 'httpbin', verdict: 'deny'}]).pairs.get(
        '192.168.1.1>10.0.0.2',
      ),
    ).toBe(VERDICT.deny)
    expect(() => resolve('ip-pair', pods, [], [{from: 'nobody', to: 'httpbin', verdict: 'deny'}])).toThrow(
      /"nobody" is neither a pod nor an IPv4 address/,
    )
  })

  it('identity: one identity per label set; each selected endpoint has one rule per peer identity, the node is identity 1', () => {
    const ids = new Map<string, number>()
    const identityOf = (l: Record<string, string>) =>
      ids.get(labelsKey(l)) ?? (ids.set(labelsKey(l), 256 + ids.size), 255 + ids.size)
    const d = resolve('identity', pods, [policy], [], {identityOf, nodeAddressesOf: () => ['10.0.0.1']})
    expect(d.identities.get('10.0.0.3')).toBe(d.identities.get('10.0.0.4'))
    expect(d.identities.get('10.0.0.1')).toBe(IDENTITY_HOST)
    expect(new Set(d.identities.values()).size).toBe(4)
    const s = d.identities.get('10.0.0.3')
    // Two sleep pods, one rule: peer identity, endpoint address.
    expect(Object.fromEntries(d.pairs)).toEqual({[`${s}>10.0.0.2`]: 2, [`${IDENTITY_HOST}>10.0.0.2`]: 2})
    expect([...d.isolated]).toEqual(['10.0.0.2'])
    expect(() =>
      resolve('identity', pods, [], [{from: '192.168.1.1', to: 'httpbin', verdict: 'deny'}], {identityOf}),
    ).toThrow(/is not a pod/)
  })
})

describe('what policy apply tells about a file', () => {
  it('a YAML syntax error: file:line:col, the reason and the code frame, no dangling colon, one short hint', () => {
    let err: (Error & {hint?: string}) | undefined
    try {
      parseNetworkPolicy(np('  podSelector: {matchLabels: {app: web}\n  ingress: []\n'), 'broken.yaml')
    } catch (e) {
      err = e as Error & {hint?: string}
    }
    expect(err?.message).toBe(
      'broken.yaml:6:3: is not valid YAML: Flow map in block collection must be sufficiently indented and end with a }\n' +
        '  podSelector: {matchLabels: {app: web}\n  ingress: []\n  ^',
    )
    expect(err?.hint).toMatch(/^YAML nests by indentation/)
  })

  it('names the selectors that match no pod: a from that lets nobody in, a podSelector that isolates nothing', () => {
    const spec = parseNetworkPolicy(ORIGINAL)
    const pods = [{labels: {app: 'httpbin'}}, {labels: {app: 'sleep'}}]
    expect(unmatchedSelectors(spec, pods)).toEqual([])
    expect(unmatchedSelectors(spec, [{labels: {app: 'httpbin'}}])).toEqual([
      'spec.ingress[0].from[0].podSelector app=sleep matches no pod: it lets nobody in until such a pod exists',
    ])
    expect(unmatchedSelectors(spec, [])).toHaveLength(2)
    expect(unmatchedSelectors(spec, [])[0]).toMatch(/^spec\.podSelector app=httpbin selects no pod/)
  })
})
