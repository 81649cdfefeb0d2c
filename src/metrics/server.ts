import {createServer, type Server} from 'node:http'
import {listen} from '../host/listen.js'
import {UserError} from '../host/errors.js'
import type {CounterExporter} from './exporter.js'

export interface MetricsServer {
  url: string
  port: number
  close(): Promise<void>
}

/**
 * Serve /metrics on host:port (loopback by default: counters name pod addresses).
 * port 0 picks a free port (checks use that).
 */
export async function startMetricsServer(
  exporter: CounterExporter,
  opts: {host: string; port: number; onError?: (msg: string) => void},
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, {allow: 'GET'}).end()
      return
    }
    if (path === '/metrics') {
      exporter.scrape().then(
        (s) => {
          if (s.error) opts.onError?.(s.error)
          res.writeHead(200, {'content-type': exporter.contentType}).end(s.text)
        },
        (err: Error) => res.writeHead(500, {'content-type': 'text/plain'}).end(`scrape failed: ${err.message}\n`),
      )
      return
    }
    if (path === '/') {
      res
        .writeHead(200, {'content-type': 'text/html'})
        .end('<html><body><h1>ebpfcni exporter</h1><a href="/metrics">/metrics</a></body></html>\n')
      return
    }
    res.writeHead(404, {'content-type': 'text/plain'}).end('not found: try /metrics\n')
  })
  const {port, base} = await listen(server, opts.host, opts.port)
  return {
    url: `${base}/metrics`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** startMetricsServer, with an address that cannot be had said as a UserError (what to do about it). */
export const serveMetrics = (
  exporter: CounterExporter,
  opts: {host: string; port: number; onError?: (msg: string) => void},
): Promise<MetricsServer> =>
  startMetricsServer(exporter, opts).catch((err: Error) => {
    throw new UserError(`cannot listen on ${opts.host}:${opts.port}: ${err.message}`, {
      hint: 'another exporter may be running (ebpfcni metrics --stop), or pick --port',
    })
  })

/** --web.listen-address HOST:PORT, as ebpf_exporter and Prometheus exporters take it (":9435" is every address). */
export function parseListenAddress(text: string): {host: string; port: number} {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(text)
  if (!m || Number(m[2]) > 65535)
    throw new UserError(`--web.listen-address ${text} is not HOST:PORT`, {
      hint: 'e.g. --web.listen-address 127.0.0.1:9435',
    })
  return {host: m[1] || '0.0.0.0', port: Number(m[2])}
}
