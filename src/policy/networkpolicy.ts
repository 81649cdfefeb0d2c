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

/** A refusal naming the field; a hint only where the message does not already say what to do. */
const bad = (file: string, field: string, what: string, hint?: string): never => {
  throw new UserError(`${file}: ${field}: ${what}`, hint ? {hint} : {})
}

const HEADER_HINT =
  'a NetworkPolicy file starts with apiVersion: networking.k8s.io/v1 and kind: NetworkPolicy (lab 4 writes one: ~/ebpfcni-lab/policy.yaml)'

/**
 * A YAML syntax error as "file:line:col: is not valid YAML: what", then the parser's code frame
 * (the lines around it, ^ under the column), which the yaml library appends after a colon.
 */
function notYaml(file: string, err: {message: string; linePos?: Array<{line: number; col: number}>}): never {
  const [first, ...rest] = err.message.split('\n')
  const what = first.replace(/\s+at line \d+, column \d+:?\s*$/, '').replace(/:\s*$/, '')
  const at = err.linePos?.[0] ? `:${err.linePos[0].line}:${err.linePos[0].col}` : ''
  const frame = rest.join('\n').replace(/^\n+/, '').trimEnd()
  throw new UserError(`${file}${at}: is not valid YAML: ${what}${frame ? `\n${frame}` : ''}`, {
    hint: 'YAML nests by indentation (spaces, not tabs) and closes every { and [ it opens; the ^ is where the parser stopped',
  })
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
    if (!allowed.includes(k))
      bad(file, `${field}.${k}`, why[k] ?? `is not supported by this lab's datapath`, why[k] ? undefined : SUPPORTED)
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
  if (!Array.isArray(docs)) return bad(file, '(file)', 'is empty: no NetworkPolicy in it', HEADER_HINT)
  const broken = docs.find((d) => d.errors.length)
  if (broken) return notYaml(file, broken.errors[0])
  const real = docs.filter((d) => d.contents !== null)
  if (real.length !== 1) return bad(file, '(file)', `holds ${real.length} YAML documents; one NetworkPolicy per file`)
  const np = real[0].toJS() as unknown
  if (!isObj(np)) return bad(file, '(file)', 'is not a mapping', HEADER_HINT)
  if (np.apiVersion !== 'networking.k8s.io/v1')
    bad(file, 'apiVersion', `is ${JSON.stringify(np.apiVersion)}, expected networking.k8s.io/v1`, HEADER_HINT)
  if (np.kind !== 'NetworkPolicy')
    bad(file, 'kind', `is ${JSON.stringify(np.kind)}, expected NetworkPolicy`, HEADER_HINT)
  const meta = np.metadata
  if (!isObj(meta) || typeof meta.name !== 'string' || !/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(meta.name))
    bad(
      file,
      'metadata.name',
      'is missing or not a DNS-1123 name',
      'lower-case letters, digits, - and ., at most 63, e.g. httpbin-allow-sleep',
    )
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

const selectorText = (sel: Labels): string => (Object.keys(sel).length ? labelsText(sel) : '{} (every pod)')
const labelsText = (l: Labels): string =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')

/**
 * The selectors of a policy that match none of these pods' labels, in words: a `from` that
 * matches no pod lets nobody in (yet), and a podSelector that matches none isolates nothing.
 */
export function unmatchedSelectors(spec: PolicySpec, pods: Array<{labels: Labels}>): string[] {
  const none = (sel: Labels): boolean => !pods.some((p) => matches(sel, p.labels))
  const out: string[] = []
  if (none(spec.podSelector))
    out.push(`spec.podSelector ${selectorText(spec.podSelector)} selects no pod: the policy isolates nothing yet`)
  spec.ingress.forEach((rule, i) =>
    rule.from?.forEach((sel, j) => {
      if (none(sel))
        out.push(
          `spec.ingress[${i}].from[${j}].podSelector ${selectorText(sel)} matches no pod: it lets nobody in until such a pod exists`,
        )
    }),
  )
  return out
}
