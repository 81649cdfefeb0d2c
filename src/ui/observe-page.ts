// The page `observe --web` serves for the projector: the node's topology and the live flow table
// (server-sent events from /flows). Self-contained: its style and script are inline, it loads
// nothing from outside the machine. Text is inserted with textContent, never as HTML.

export const OBSERVE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ebpfcni observe</title>
<style>
body{font:15px/1.4 system-ui,sans-serif;margin:1.2em;background:#fafafa;color:#222}
h1{font-size:1.3em;margin:0 0 .4em} h2{font-size:1.05em;margin:1em 0 .3em}
#topology{display:flex;flex-wrap:wrap;gap:.6em}
.bridge{border:2px solid #446;border-radius:6px;padding:.4em .7em;background:#fff}
.pod{border:1px solid #aaa;border-radius:4px;padding:.3em .5em;margin:.3em 0;background:#f4f7ff}
.prog{font-size:.85em;color:#642}
table{border-collapse:collapse;width:100%;background:#fff;font-family:ui-monospace,monospace;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:.2em .5em;text-align:left;white-space:nowrap}
td.why{white-space:normal}
tr.DROPPED td.verdict{color:#b00;font-weight:bold} tr.FORWARDED td.verdict{color:#070}
#status{color:#666;font-size:.9em}
</style></head><body>
<h1>ebpfcni observe <span id="status">connecting…</span></h1>
<h2>Node</h2><div id="topology">loading…</div>
<h2>Flows (newest first)</h2>
<table><thead><tr><th>time</th><th>source</th><th>destination</th><th>proto</th><th>program</th><th>verdict</th><th>reason</th></tr></thead>
<tbody id="flows"></tbody></table>
<script>
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e }
const end = (x) => (x.pod || x.ip) + (x.port ? ':' + x.port : '')
async function topology() {
  const box = document.getElementById('topology')
  try {
    const t = await (await fetch('/topology')).json()
    box.textContent = ''
    const bridges = t.bridges.concat(t.unbridged.length ? [{name: 'no bridge', addresses: [], pods: t.unbridged}] : [])
    if (!bridges.length) box.textContent = 'no pods yet: ebpfcni pod add NAME'
    for (const b of bridges) {
      const d = el('div', 'bridge'); d.append(el('b', '', b.name + ' ' + b.addresses.join(', ')))
      for (const p of b.pods) {
        const q = el('div', 'pod')
        const labels = Object.entries(p.labels).map(([k, v]) => k + '=' + v).join(',')
        q.append(el('div', '', p.name + '  ' + (p.ip || 'no IP') + (labels ? '  ' + labels : '') + '  (' + (p.hostVeth || '?') + ')'))
        for (const g of p.programs) q.append(el('div', 'prog', g.hook + ': ' + (g.name || 'program') + ' (id ' + g.id + ')'))
        d.append(q)
      }
      box.append(d)
    }
  } catch (e) { box.textContent = 'topology unavailable: ' + e }
}
topology(); setInterval(topology, 5000)
const rows = document.getElementById('flows')
const src = new EventSource('/flows')
src.onopen = () => { document.getElementById('status').textContent = 'live' }
src.onerror = () => { document.getElementById('status').textContent = 'disconnected: is observe --web still running?' }
src.onmessage = (m) => {
  const f = JSON.parse(m.data)
  const tr = el('tr', f.verdict)
  const why = f.reasonText + ([f.policy, f.nearMiss].filter(Boolean).length ? ' (' + [f.policy, f.nearMiss].filter(Boolean).join(': ') + ')' : '')
  const where = f.src.ip ? end(f.src) : 'on ' + (f.interface || 'ifindex ' + f.ifindex)
  for (const [cls, text] of [['', f.time.slice(11, 23)], ['', where], ['', f.dst.ip ? end(f.dst) : ''], ['', f.proto + (f.tcpFlags ? ' ' + f.tcpFlags : '')], ['', f.program], ['verdict', f.verdict], ['why', why]]) tr.append(el('td', cls, text))
  rows.prepend(tr)
  while (rows.children.length > 300) rows.lastChild.remove()
}
</script></body></html>
`
