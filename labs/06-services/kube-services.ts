// What the node agent reads from the Kubernetes API, turned into what services.bpf.c's maps hold:
// each Service port with a clusterIP, and the ready endpoints of its EndpointSlices (the addresses
// kube-proxy itself programs: a pod counts once the EndpointSlice controller says it is ready).

/** One Service port on a node: the VIP and port connect4 looks up, and its backends. */
export interface ServicePort {
  /** namespace/name:port-name, stable while the Service keeps that port. */
  key: string
  clusterIP: string
  port: number
  protocol: 'TCP' | 'UDP'
  /** The ready endpoints' addresses with the port the EndpointSlice resolved for it, sorted. */
  backends: Array<{ip: string; port: number}>
}

interface ApiService {
  metadata?: {namespace?: string; name?: string}
  spec?: {
    clusterIP?: string
    type?: string
    ports?: Array<{name?: string; port?: number; protocol?: string}>
  }
}

interface ApiEndpointSlice {
  metadata?: {namespace?: string; labels?: Record<string, string>}
  addressType?: string
  ports?: Array<{name?: string; port?: number; protocol?: string}> | null
  endpoints?: Array<{addresses?: string[]; conditions?: {ready?: boolean | null}}> | null
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/
const isIpv4 = (s: unknown): s is string =>
  typeof s === 'string' && IPV4.test(s) && s.split('.').every((o) => Number(o) <= 255)

/** The label every EndpointSlice carries: the Service it belongs to (discovery.k8s.io/v1). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'

/**
 * The Service ports this node must translate, from a ServiceList and an EndpointSliceList as the
 * API returns them. Left out, as kube-proxy leaves them: headless Services (clusterIP None),
 * ExternalName, IPv6, protocols other than TCP and UDP. An endpoint whose `ready` is false is not
 * a backend (`ready` unset means ready, as the API documents).
 */
export function servicePorts(serviceList: unknown, sliceList: unknown): ServicePort[] {
  const services = ((serviceList as {items?: ApiService[]})?.items ?? []) as ApiService[]
  const slices = ((sliceList as {items?: ApiEndpointSlice[]})?.items ?? []) as ApiEndpointSlice[]
  const out: ServicePort[] = []
  for (const s of services) {
    const ns = s.metadata?.namespace ?? 'default'
    const name = s.metadata?.name
    const vip = s.spec?.clusterIP
    if (!name || !isIpv4(vip) || s.spec?.type === 'ExternalName') continue
    const mine = slices.filter(
      (sl) =>
        (sl.metadata?.namespace ?? 'default') === ns &&
        sl.metadata?.labels?.[SERVICE_NAME_LABEL] === name &&
        (sl.addressType ?? 'IPv4') === 'IPv4',
    )
    for (const p of s.spec?.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP') as string
      if ((protocol !== 'TCP' && protocol !== 'UDP') || !p.port) continue
      const portName = p.name ?? ''
      const backends = new Map<string, {ip: string; port: number}>()
      for (const sl of mine) {
        // The slice's port of the same name carries the targetPort resolved for its endpoints.
        const sp = (sl.ports ?? []).find((x) => (x.name ?? '') === portName && (x.protocol ?? 'TCP') === protocol)
        if (!sp?.port) continue
        for (const e of sl.endpoints ?? []) {
          if (e.conditions?.ready === false) continue
          const ip = e.addresses?.[0]
          if (isIpv4(ip)) backends.set(`${ip}:${sp.port}`, {ip, port: sp.port})
        }
      }
      out.push({
        key: `${ns}/${name}:${portName || p.port}`,
        clusterIP: vip,
        port: p.port,
        protocol,
        backends: [...backends.values()].sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1)),
      })
    }
  }
  return out
}
