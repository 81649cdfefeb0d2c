import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseAllDocuments} from 'yaml'
import {packageRoot} from '#host/paths.js'
import {ipv4Key} from '#bpf/counters.js'

// The Services of service.yaml, and the byte layouts of services.bpf.c's maps that hold them.

export const LAB_DIR = (): string => join(packageRoot(), 'labs', '06-services')

/** A Service as service.yaml gives it (Kubernetes' v1 Service, the fields that matter here). */
export interface Service {
  name: string
  clusterIP: string
  port: number
  targetPort: number
  selector: Record<string, string>
}

/** The Services of the lab's service.yaml. */
export function readServices(file = join(LAB_DIR(), 'service.yaml')): Service[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((doc) => {
    const s = doc.toJS() as {
      metadata?: {name?: string}
      spec?: {
        clusterIP?: string
        selector?: Record<string, string>
        ports?: Array<{port?: number; targetPort?: number}>
      }
    }
    const port = s.spec?.ports?.[0]
    if (!s.metadata?.name || !s.spec?.clusterIP || !port?.port)
      throw new Error(`${file}: a Service lacks name, clusterIP or port`)
    return {
      name: s.metadata.name,
      clusterIP: s.spec.clusterIP,
      port: port.port,
      targetPort: port.targetPort ?? port.port,
      selector: s.spec.selector ?? {},
    }
  })
}

export const u32le = (...n: number[]): Buffer => {
  const b = Buffer.alloc(4 * n.length)
  n.forEach((v, i) => b.writeUInt32LE(v, 4 * i))
  return b
}
/** {ip, port, pad}: an address as a socket holds it (both in network byte order). */
export const addrKey = (ip: string, port: number): Buffer => {
  const b = Buffer.alloc(8)
  ipv4Key(ip).copy(b)
  b.writeUInt16BE(port, 4)
  return b
}
