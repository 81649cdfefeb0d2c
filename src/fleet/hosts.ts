// The fleet's host list, as instructors have it: one host per line (a file they typed or a
// spreadsheet column), `terraform output -json`, or `vagrant ssh-config`. A line that is not a
// host is a problem of its own, reported with its line number; the other hosts go on.

export interface FleetHost {
  /** What the report calls it: the line as given (user@host:port), or Vagrant's machine name. */
  name: string
  address: string
  user?: string
  port?: number
  /** A key for this host alone (vagrant ssh-config's IdentityFile). */
  identity?: string
}

export interface HostListProblem {
  line: number
  text: string
  message: string
}

export interface HostList {
  hosts: FleetHost[]
  problems: HostListProblem[]
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/
const IPV6 = /^[0-9A-Fa-f:.]+$/
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i

const validAddress = (a: string): boolean => IPV4.test(a) || (a.includes(':') && IPV6.test(a)) || HOSTNAME.test(a)

/** One `[user@]host[:port]` (IPv6 as `[addr]:port`), or why it is not one. */
export function parseHost(text: string): FleetHost | string {
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:\s]+|[0-9A-Fa-f:]+)(?::(\d+))?$/.exec(text)
  if (!m) return 'not a host: expected [user@]host[:port]'
  const [, user, rawAddress, portText] = m
  const address = rawAddress.startsWith('[') ? rawAddress.slice(1, -1) : rawAddress
  if (user !== undefined && !USER.test(user)) return `"${user}" is not a user name`
  if (!validAddress(address)) return `"${address}" is neither a host name nor an IP address`
  const port = portText === undefined ? undefined : Number(portText)
  if (port !== undefined && (port < 1 || port > 65535)) return `port ${portText} is out of range (1–65535)`
  return {name: text, address, ...(user ? {user} : {}), ...(port ? {port} : {})}
}

/** Read a host list in whichever of the three forms it is. */
export function parseHostList(text: string): HostList {
  const trimmed = text.trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return fromTerraform(trimmed)
  if (/^\s*Host\s+\S+/m.test(text) && /^\s+HostName\s+\S+/m.test(text)) return fromVagrant(text)
  return fromLines(text)
}

function dedupe(found: Array<{host: FleetHost; line: number; text: string}>, problems: HostListProblem[]): HostList {
  const seen = new Map<string, number>()
  const hosts: FleetHost[] = []
  for (const f of found) {
    const key = `${f.host.user ?? ''}@${f.host.address}:${f.host.port ?? 22}`
    const first = seen.get(key)
    if (first !== undefined) {
      problems.push({line: f.line, text: f.text, message: `the same host as line ${first}; asked once`})
      continue
    }
    seen.set(key, f.line)
    hosts.push(f.host)
  }
  return {hosts, problems: problems.sort((a, b) => a.line - b.line)}
}

function fromLines(text: string): HostList {
  const found: Array<{host: FleetHost; line: number; text: string}> = []
  const problems: HostListProblem[] = []
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim()
    if (!line) return
    const host = parseHost(line)
    if (typeof host === 'string') problems.push({line: i + 1, text: raw.trim().slice(0, 80), message: host})
    else found.push({host, line: i + 1, text: line})
  })
  return dedupe(found, problems)
}

/** `terraform output -json`: every string inside an output's value that is a host (lists, maps). */
function fromTerraform(text: string): HostList {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (e) {
    return {
      hosts: [],
      problems: [{line: 1, text: text.slice(0, 80), message: `not valid JSON: ${(e as Error).message}`}],
    }
  }
  const strings: string[] = []
  const walk = (v: unknown): void => {
    if (typeof v === 'string') strings.push(v)
    else if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      // Terraform wraps each output as {value, type, sensitive}: only the value holds hosts.
      if ('value' in o && 'type' in o) walk(o.value)
      else Object.values(o).forEach(walk)
    }
  }
  walk(doc)
  const found: Array<{host: FleetHost; line: number; text: string}> = []
  const problems: HostListProblem[] = []
  strings.forEach((s, i) => {
    const host = parseHost(s)
    if (typeof host === 'string') problems.push({line: i + 1, text: s.slice(0, 80), message: host})
    else found.push({host, line: i + 1, text: s})
  })
  if (strings.length === 0) problems.push({line: 1, text: text.slice(0, 80), message: 'no host in this JSON'})
  return dedupe(found, problems)
}

/** `vagrant ssh-config`: Host blocks with HostName, User and Port. */
function fromVagrant(text: string): HostList {
  const found: Array<{host: FleetHost; line: number; text: string}> = []
  const problems: HostListProblem[] = []
  let cur: {name: string; line: number; address?: string; user?: string; port?: string; identity?: string} | undefined
  const flush = () => {
    if (!cur) return
    const host = cur.address ? parseHost(cur.address) : 'no HostName in this block'
    if (typeof host === 'string') problems.push({line: cur.line, text: `Host ${cur.name}`, message: host})
    else {
      const port = cur.port ? Number(cur.port) : undefined
      found.push({
        host: {
          ...host,
          name: cur.name,
          ...(cur.user ? {user: cur.user} : {}),
          ...(port ? {port} : {}),
          ...(cur.identity ? {identity: cur.identity.replace(/^"(.*)"$/, '$1')} : {}),
        },
        line: cur.line,
        text: `Host ${cur.name}`,
      })
    }
  }
  text.split('\n').forEach((raw, i) => {
    const m = /^\s*(\S+)\s+(.*\S)\s*$/.exec(raw)
    if (!m) return
    const [, key, value] = m
    if (key === 'Host') {
      flush()
      cur = {name: value, line: i + 1}
    } else if (cur && key === 'HostName') cur.address = value
    else if (cur && key === 'User') cur.user = value
    else if (cur && key === 'Port') cur.port = value
    else if (cur && key === 'IdentityFile') cur.identity ??= value
  })
  flush()
  return dedupe(found, problems)
}

/** The host list in a file; a usage error when there is none or it names no host at all. */
export function readHostListFile(path: string, read: (p: string) => string): HostList {
  let text: string
  try {
    text = read(path)
  } catch (e) {
    throw new Error(`cannot read the host list ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  return parseHostList(text)
}
