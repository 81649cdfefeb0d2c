import {createServer, type Server, type ServerResponse} from 'node:http'
import {listen} from '../host/listen.js'
import type {Flow} from './flow-names.js'

// observe --web: one page (handed in, self-contained: nothing loaded from outside the machine),
// the node's topology as JSON, and the flows as server-sent events. Loopback unless asked: flows
// name pods and addresses.

export interface FlowWebServer {
  url: string
  /** Send a flow to every open page (and keep it for pages that open later). */
  publish(f: Flow): void
  close(): Promise<void>
}

const KEEP = 200

export async function startFlowWebServer(opts: {
  host: string
  port: number
  page: string
  topology: () => Promise<unknown>
}): Promise<FlowWebServer> {
  const recent: Flow[] = []
  const clients = new Set<ServerResponse>()
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') return void res.writeHead(405, {allow: 'GET'}).end()
    if (path === '/')
      return void res
        .writeHead(200, {'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store'})
        .end(opts.page)
    if (path === '/topology')
      return void opts.topology().then(
        (t) => res.writeHead(200, {'content-type': 'application/json'}).end(JSON.stringify(t)),
        (err: Error) => res.writeHead(500, {'content-type': 'text/plain'}).end(err.message),
      )
    if (path === '/flows') {
      res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive'})
      res.write(': connected\n\n') // sends the headers now: the page's EventSource opens before the first flow
      for (const f of recent) res.write(`data: ${JSON.stringify(f)}\n\n`)
      clients.add(res)
      req.on('close', () => clients.delete(res))
      return
    }
    res.writeHead(404, {'content-type': 'text/plain'}).end('not found: / (the page), /flows (events), /topology\n')
  })
  const {base} = await listen(server, opts.host, opts.port)
  return {
    url: `${base}/`,
    publish(f) {
      recent.push(f)
      if (recent.length > KEEP) recent.shift()
      const line = `data: ${JSON.stringify(f)}\n\n`
      for (const c of clients) c.write(line)
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of clients) c.end()
        server.close(() => resolve())
      }),
  }
}
