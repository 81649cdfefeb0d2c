import {createServer, type Server} from 'node:http'
import {listen} from '../host/listen.js'
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
