import {createServer, type Server, type ServerResponse} from 'node:http'
import {listen} from '../host/listen.js'
import type {Flow} from './flow-names.js'
import {flowMatches, type FlowFilter} from './flow-filter.js'
import {describeFlowQuery, FlowQueryError, parseFlowQuery} from './flow-query.js'

// observe --web: one page (handed in, self-contained: nothing loaded from outside the machine),
// the node's topology as JSON, and the flows as server-sent events. Loopback unless asked: flows
// name pods and addresses.
//   /                the page; its query string is a filter (/?from-pod=sleep&verdict=dropped)
//   /flows?FILTER    the flows that pass the filter: the last ones kept, then live
//   /filter?FILTER   the filter checked: {"filter": "from-pod=sleep"} or 400 {"error": "..."}
//   /topology        the node (readTopology), as `ebpfcni topology --json` prints it
// A flow without IPv4 addresses (IPv6, ARP) names no pod by address; the topology knows whose host
// veth it ran on, so the page names that pod: the sender for xdp_prog, the receiver for to_pod.

export interface FlowWebServer {
  url: string
  /** Send a flow to every open page (and keep it for pages that open later). */
  publish(f: Flow): void
  close(): Promise<void>
}

const KEEP = 200
/** How long a topology read serves the page and the veth names (it runs ip and bpftool's reads). */
const TOPOLOGY_MS = 2000

/** host veth -> pod name, from a topology (the shape readTopology returns; anything else names none). */
export function podsByVeth(topology: unknown): Map<string, string> {
  const out = new Map<string, string>()
  const t = topology as {bridges?: Array<{pods?: unknown[]}>; unbridged?: unknown[]} | undefined
  const pods = [...(t?.bridges ?? []).flatMap((b) => b.pods ?? []), ...(t?.unbridged ?? [])] as Array<{
    name?: unknown
    hostVeth?: unknown
  }>
  for (const p of pods) if (typeof p?.name === 'string' && typeof p.hostVeth === 'string') out.set(p.hostVeth, p.name)
  return out
}

/** The flow with the pod whose host veth it ran on, when it has no IPv4 address to name one by. */
export function onVethPod(f: Flow, veths: Map<string, string>): Flow {
  const pod = !f.src.ip && !f.dst.ip && f.interface ? veths.get(f.interface) : undefined
  if (!pod) return f
  return f.direction === 'from-pod' ? {...f, src: {...f.src, pod}} : {...f, dst: {...f.dst, pod}}
}

export async function startFlowWebServer(opts: {
  host: string
  port: number
  page: string
  topology: () => Promise<unknown>
}): Promise<FlowWebServer> {
  const recent: Flow[] = []
  const clients = new Map<ServerResponse, FlowFilter>()
  let veths = new Map<string, string>()
  let cached: {at: number; topology: Promise<unknown>} | undefined
  const topology = (): Promise<unknown> => {
    if (!cached || Date.now() - cached.at > TOPOLOGY_MS) {
      const read = opts.topology()
      cached = {at: Date.now(), topology: read}
      read.then(
        (t) => void (veths = podsByVeth(t)),
        () => (cached = undefined),
      )
    }
    return cached.topology
  }
  // Pods come and go while pages are open: their veths are read again, as the page's box is.
  const refresh = setInterval(() => void (clients.size && topology().catch(() => undefined)), TOPOLOGY_MS)
  refresh.unref()
  const send = (c: ServerResponse, filter: FlowFilter, f: Flow) => {
    const named = onVethPod(f, veths)
    if (flowMatches(named, filter)) c.write(`data: ${JSON.stringify(named)}\n\n`)
  }
  const json = (res: ServerResponse, status: number, body: unknown) =>
    void res
      .writeHead(status, {'content-type': 'application/json', 'cache-control': 'no-store'})
      .end(JSON.stringify(body))

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://page')
    const path = url.pathname
    if (req.method !== 'GET') return void res.writeHead(405, {allow: 'GET'}).end()
    if (path === '/')
      return void res
        .writeHead(200, {'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store'})
        .end(opts.page)
    // The page links its icon inline; a browser that asks anyway gets no error in its console.
    if (path === '/favicon.ico') return void res.writeHead(204, {'cache-control': 'max-age=86400'}).end()
    if (path === '/topology')
      return void topology().then(
        (t) => json(res, 200, t),
        (err: Error) => res.writeHead(500, {'content-type': 'text/plain'}).end(err.message),
      )
    let filter: FlowFilter
    try {
      filter = parseFlowQuery(url.searchParams)
    } catch (err) {
      if (!(err instanceof FlowQueryError)) throw err
      return json(res, 400, {error: err.message})
    }
    if (path === '/filter') return json(res, 200, {filter: describeFlowQuery(url.searchParams)})
    if (path === '/flows') {
      res.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive'})
      res.write(': connected\n\n') // sends the headers now: the page's EventSource opens before the first flow
      let open = true
      req.on('close', () => {
        open = false
        clients.delete(res)
      })
      // History with the pods' veths named: a topology first (it may fail: then without). What was
      // published meanwhile is in `recent` too, so the page is added only after its history.
      void topology()
        .catch(() => undefined)
        .then(() => {
          if (!open) return
          for (const f of recent) send(res, filter, f)
          clients.set(res, filter)
        })
      return
    }
    res
      .writeHead(404, {'content-type': 'text/plain'})
      .end('not found: / (the page), /flows (events), /filter, /topology; filters: /?from-pod=NAME&verdict=dropped\n')
  })
  const {base} = await listen(server, opts.host, opts.port)
  return {
    url: `${base}/`,
    publish(f) {
      recent.push(f)
      if (recent.length > KEEP) recent.shift()
      for (const [c, filter] of clients) send(c, filter, f)
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(refresh)
        for (const c of clients.keys()) c.end()
        server.close(() => resolve())
      }),
  }
}
