// The HTTP client the checks run in a pod, and what it reports.

/** What one client's run saw: each request's fate, by backend pod. */
export interface RequestResult {
  ok: boolean
  pod?: string
  error?: string
}

// The client, run in a pod's netns: it moves itself into its cgroup (argv[1]'s cgroup.procs)
// first, then makes N HTTP requests, each on a connection of its own, C at a time; it stops after
// 5 failures (a broken program must not cost N timeouts). One JSON line: each request's fate.
export const CLIENT = `
const [procs, host, port, n, conc, limitMs] = process.argv.slice(1)
require('fs').writeFileSync(procs, String(process.pid))
const http = require('http')
let next = 0, fails = 0
const out = []
const one = () => {
  if (next >= Number(n) || fails >= 5) return Promise.resolve()
  next++
  return new Promise((done) => {
    const req = http.get({host, port: Number(port), path: '/get', agent: false, timeout: Number(limitMs)}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        let pod
        try { pod = JSON.parse(body).pod } catch {}
        out.push({ok: res.statusCode === 200, pod})
        done()
      })
    })
    req.on('timeout', () => req.destroy(Object.assign(new Error('timed out'), {code: 'ETIMEDOUT'})))
    req.on('error', (e) => { fails++; out.push({ok: false, error: e.code || e.message}); done() })
  }).then(one)
}
Promise.all(Array.from({length: Number(conc)}, one)).then(() => { console.log(JSON.stringify(out)); process.exit(0) })
`
