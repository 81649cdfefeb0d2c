// A small httpbin-like server run inside a pod's netns (the original workshop's httpbin pod).
// Started as a separate process by the pod runtime; prints "listening" once ready.
import {createServer} from 'node:http'
import {hostname} from 'node:os'

const portArg = process.argv.indexOf('--port')
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 80
const podName = process.env.EBPFCNI_POD ?? hostname()

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://pod')
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, {'content-type': 'application/json'})
    res.end(JSON.stringify(body, null, 2) + '\n')
  }
  const status = /^\/status\/(\d{3})$/.exec(url.pathname)
  const bytes = /^\/bytes\/(\d{1,8})$/.exec(url.pathname)
  if (url.pathname === '/get') {
    send(200, {
      args: Object.fromEntries(url.searchParams),
      headers: req.headers,
      origin: req.socket.remoteAddress?.replace(/^::ffff:/, ''),
      url: url.toString(),
      pod: podName,
    })
  } else if (url.pathname === '/ip') {
    send(200, {origin: req.socket.remoteAddress?.replace(/^::ffff:/, '')})
  } else if (bytes) {
    // N bytes (at most 16 MiB): a transfer big enough to cross many MTU-sized packets.
    const n = Math.min(Number(bytes[1]), 16 * 1024 * 1024)
    res.writeHead(200, {'content-type': 'application/octet-stream', 'content-length': String(n)})
    res.end(Buffer.alloc(n, 'x'))
  } else if (status) {
    const code = Number(status[1])
    send(code >= 100 && code <= 599 ? code : 400, {status: code})
  } else {
    send(404, {error: 'not found', try: ['/get', '/ip', '/status/418', '/bytes/1048576']})
  }
})
// Inside the pod's own netns, listening on all of the pod's addresses is the point.
server.listen(port, '0.0.0.0', () => console.log(`listening on ${port} as ${podName}`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
