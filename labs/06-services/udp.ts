// Step 3's programs in pods: a UDP "DNS" server in each backend, and the clients that ask a Service
// as resolvers do (and say what getpeername() returned).

/** One JSON line per client run: each query's or connection's fate. */
export interface PeerResult {
  /** getpeername() of the connected socket, "ip:port". */
  peer?: string
  /** recvfrom()'s source of the reply, "ip:port" (UDP). */
  from?: string
  /** The reply's text: the backend pod's name (UDP). */
  answer?: string
  error?: string
}

// The server, in a backend's netns: answers each datagram with its pod's name, until the stop file
// appears (or 60 s pass); it writes the ready file once bound.
export const UDP_SERVER = `
const [port, name, ready, stop] = process.argv.slice(1)
const fs = require('fs')
const s = require('dgram').createSocket('udp4')
s.on('message', (m, r) => s.send(name, r.port, r.address))
s.bind(Number(port), () => fs.writeFileSync(ready, 'ok'))
const t = setInterval(() => { if (fs.existsSync(stop)) { clearInterval(t); s.close(); process.exit(0) } }, 50)
setTimeout(() => process.exit(0), 60000)
`

// The client, in the client pod's netns and cgroup: n times, one new socket each, all n at once (a
// broken program must not cost n time limits one after another: 10 x 2 s of TCP connects that go
// nowhere took 20 s; at once, 2 s, and each socket's fate is judged alone as before).
//   tcp:         connect() to host:port, then getpeername()            -> {peer}
//   udp-connect: connect() a UDP socket, getpeername(), send, receive  -> {peer, from, answer}
//   udp-sendto:  sendto(host:port) on an unconnected socket, recvfrom  -> {from, answer}
// A UDP reply that does not come within 1 s is {error: 'no reply'}.
export const PEER_CLIENT = `
const [procs, mode, host, port, n] = process.argv.slice(1)
require('fs').writeFileSync(procs, String(process.pid))
const net = require('net'), dgram = require('dgram')
const out = []
const one = () => new Promise((done) => {
  const fin = (r) => { out.push(r); done() }
  if (mode === 'tcp') {
    const c = net.connect({host, port: Number(port), timeout: 2000})
    c.on('connect', () => { fin({peer: c.remoteAddress + ':' + c.remotePort}); c.destroy() })
    c.on('timeout', () => c.destroy(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
    c.on('error', (e) => fin({error: e.code || e.message}))
    return
  }
  const s = dgram.createSocket('udp4')
  let peer
  const t = setTimeout(() => { s.close(); fin({peer, error: 'no reply'}) }, 1000)
  s.on('message', (m, r) => { clearTimeout(t); s.close(); fin({peer, from: r.address + ':' + r.port, answer: m.toString()}) })
  s.on('error', (e) => { clearTimeout(t); try { s.close() } catch {} ; fin({peer, error: e.code || e.message}) })
  if (mode === 'udp-connect')
    s.connect(Number(port), host, () => { const a = s.remoteAddress(); peer = a.address + ':' + a.port; s.send('query') })
  else s.send('query', Number(port), host)
})
Promise.all(Array.from({length: Number(n)}, one)).then(() => { console.log(JSON.stringify(out)); process.exit(0) })
`
