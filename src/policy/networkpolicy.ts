import {parseAllDocuments} from 'yaml'
import {UserError} from '../host/errors.js'

// Kubernetes NetworkPolicy (networking.k8s.io/v1), the part this lab's datapath can enforce:
// spec.podSelector.matchLabels selects pods, which become default-deny for ingress;
// spec.ingress[].from[].podSelector.matchLabels allows the matching pods in. Anything the
// datapath cannot honour is refused with the field named: a policy is applied whole or not at all.

export type Labels = Record<string, string>

export interface PortRule {
  protocol: 'TCP' | 'UDP'
  port: number
}

export interface IngressRule {
  /** undefined: from every pod (a rule without `from`); else any of these selectors. */
  from?: Labels[]
  /** undefined: every port; else only these. */
  ports?: PortRule[]
}

export interface PolicySpec {
  name: string
  /** Pods the policy selects ({} selects every pod). */
  podSelector: Labels
  /** Empty: the selected pods accept no ingress at all. */
  ingress: IngressRule[]
}

const SUPPORTED =
  'supported: metadata.name, spec.podSelector.matchLabels, spec.policyTypes [Ingress], spec.ingress[].from[].podSelector.matchLabels, spec.ingress[].ports[] (protocol TCP or UDP, numeric port)'

const bad = (file: string, field: string, what: string): never => {
  throw new UserError(`${file}: ${field}: ${what}`, {hint: SUPPORTED})
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

function onlyKeys(
  file: string,
  field: string,
  v: Record<string, unknown>,
  allowed: string[],
  why: Record<string, string> = {},
): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) bad(file, `${field}.${k}`, why[k] ?? `is not supported by this lab's datapath`)
  }
}

function matchLabels(file: string, field: string, sel: unknown): Labels {
  if (sel === null || sel === undefined) return {}
  if (!isObj(sel)) return bad(file, field, 'must be a mapping with matchLabels')
  onlyKeys(file, field, sel, ['matchLabels'], {matchExpressions: 'matchExpressions is not supported (use matchLabels)'})
  const ml = sel.matchLabels ?? {}
  if (!isObj(ml)) return bad(file, `${field}.matchLabels`, 'must be a mapping of label: value')
  const out: Labels = {}
  for (const [k, v] of Object.entries(ml)) {
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      bad(file, `${field}.matchLabels.${k}`, 'must be a string')
    out[k] = String(v)
  }
  return out
}

/** Parse one NetworkPolicy from YAML text (one document). Throws UserError naming the field. */
export function parseNetworkPolicy(text: string, file = 'policy'): PolicySpec {
  const docs = parseAllDocuments(text)
  if (!Array.isArray(docs)) return bad(file, '(file)', 'is not YAML')
  const real = docs.filter((d) => d.contents !== null)
  if (real.length !== 1) return bad(file, '(file)', `holds ${real.length} YAML documents; one NetworkPolicy per file`)
  const doc = real[0]
  if (doc.errors.length) return bad(file, '(file)', `is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
  const np = doc.toJS() as unknown
  if (!isObj(np)) return bad(file, '(file)', 'is not a mapping')
  if (np.apiVersion !== 'networking.k8s.io/v1')
    bad(file, 'apiVersion', `is ${JSON.stringify(np.apiVersion)}, expected networking.k8s.io/v1`)
  if (np.kind !== 'NetworkPolicy') bad(file, 'kind', `is ${JSON.stringify(np.kind)}, expected NetworkPolicy`)
  const meta = np.metadata
  if (!isObj(meta) || typeof meta.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(meta.name))
    bad(file, 'metadata.name', 'is missing or not a DNS-1123 name')
  const spec = np.spec
  if (!isObj(spec)) return bad(file, 'spec', 'is missing')
  onlyKeys(file, 'spec', spec, ['podSelector', 'policyTypes', 'ingress'], {
    egress:
      'egress rules are not supported: this lab enforces ingress only (the XDP program drops what a pod may not receive)',
  })
  if (spec.podSelector === undefined) bad(file, 'spec.podSelector', 'is required ({} selects every pod)')
  const podSelector = matchLabels(file, 'spec.podSelector', spec.podSelector)
  if (spec.policyTypes !== undefined) {
    if (!Array.isArray(spec.policyTypes)) bad(file, 'spec.policyTypes', 'must be a list')
    for (const t of spec.policyTypes as unknown[]) {
      if (t === 'Egress') bad(file, 'spec.policyTypes', 'Egress is not supported: this lab enforces ingress only')
      if (t !== 'Ingress') bad(file, 'spec.policyTypes', `${JSON.stringify(t)} is not a policy type (Ingress)`)
    }
  }
  const ingress: IngressRule[] = []
  if (spec.ingress !== undefined && spec.ingress !== null) {
    if (!Array.isArray(spec.ingress)) return bad(file, 'spec.ingress', 'must be a list of rules')
    spec.ingress.forEach((rule: unknown, i: number) => {
      const at = `spec.ingress[${i}]`
      if (rule === null || (isObj(rule) && Object.keys(rule).length === 0)) return void ingress.push({})
      if (!isObj(rule)) return bad(file, at, 'must be a mapping')
      onlyKeys(file, at, rule, ['from', 'ports'])
      // Kubernetes: "If this field is empty or missing, this rule matches all sources" (from) and
      // "… all ports" (ports). An empty list means everyone, not no one.
      const ports = parsePorts(file, at, rule.ports)
      if (rule.from === undefined || rule.from === null || (Array.isArray(rule.from) && rule.from.length === 0))
        return void ingress.push(ports ? {ports} : {})
      if (!Array.isArray(rule.from)) return bad(file, `${at}.from`, 'must be a list of peers')
      const from = rule.from.map((peer: unknown, j: number) => {
        const pat = `${at}.from[${j}]`
        if (!isObj(peer)) return bad(file, pat, 'must be a mapping')
        onlyKeys(file, pat, peer, ['podSelector'], {
          ipBlock: 'ipBlock is not supported (rules name pods by label)',
          namespaceSelector: 'namespaceSelector is not supported (one namespace: every pod is in it)',
        })
        if (peer.podSelector === undefined) return bad(file, pat, 'needs a podSelector')
        return matchLabels(file, `${pat}.podSelector`, peer.podSelector)
      })
      ingress.push(ports ? {from, ports} : {from})
    })
  }
  return {name: (meta as {name: string}).name, podSelector, ingress}
}

function parsePorts(file: string, at: string, raw: unknown): PortRule[] | undefined {
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return undefined
  if (!Array.isArray(raw)) return bad(file, `${at}.ports`, 'must be a list')
  return raw.map((p: unknown, k: number) => {
    const pat = `${at}.ports[${k}]`
    if (!isObj(p)) return bad(file, pat, 'must be a mapping with protocol and port')
    onlyKeys(file, pat, p, ['protocol', 'port'], {endPort: 'endPort (port ranges) is not supported: list the ports'})
    const protocol = p.protocol ?? 'TCP'
    if (protocol !== 'TCP' && protocol !== 'UDP')
      bad(file, `${pat}.protocol`, `${JSON.stringify(protocol)} is not supported (TCP or UDP)`)
    if (typeof p.port === 'string')
      bad(
        file,
        `${pat}.port`,
        `named ports ("${p.port}") are not supported: pods here have no container ports to name (use the number)`,
      )
    if (p.port === undefined) bad(file, `${pat}.port`, 'is required here (a rule for every port needs no ports at all)')
    if (!Number.isInteger(p.port) || (p.port as number) < 1 || (p.port as number) > 65535)
      bad(file, `${pat}.port`, `${JSON.stringify(p.port)} is not a port number (1-65535)`)
    return {protocol: protocol as 'TCP' | 'UDP', port: p.port as number}
  })
}

export const matches = (sel: Labels, labels: Labels): boolean => Object.entries(sel).every(([k, v]) => labels[k] === v)
