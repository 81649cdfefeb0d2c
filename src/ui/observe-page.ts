import {flowRows} from './flow-rows.js'

// The page `observe --web` serves for the projector: the live flow table first, sized to be read
// from the back of a room at 1280×720, with a legend, a pause button and Hubble's filters (the
// page's query string: /?from-pod=sleep&verdict=dropped), and the node's topology in a strip
// above it. Flows come as server-sent events from /flows; flow-rows.ts (whose source is this
// page's) pairs each packet's xdp_prog and to_pod events into one row and groups repeats.
// Self-contained: its style, script and icon are inline, it loads nothing from outside the
// machine. Text is inserted with textContent, never as HTML.

export const OBSERVE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ebpfcni observe</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%23446'/%3E%3Cpath d='M3 8h10M9 4l4 4-4 4' stroke='%23fff' stroke-width='2' fill='none'/%3E%3C/svg%3E">
<style>
body{font:20px/1.35 system-ui,sans-serif;margin:.5em .8em;background:#fafafa;color:#111}
header{display:flex;align-items:baseline;gap:.8em;flex-wrap:wrap}
h1{font-size:1.2em;margin:0} #status{color:#555;font-size:.85em}
button,input,select{font:inherit;font-size:.85em}
#pause{margin-left:auto;padding:.1em .8em}
#filter{display:flex;flex-wrap:wrap;gap:.3em .8em;align-items:center;font-size:.85em;margin:.3em 0}
#filter input{width:7.5em} #filter input[name=port]{width:4.5em} #filter input[name=since]{width:5em}
#filter-note{color:#555} #filter-error{color:#b00;font-weight:bold}
#legend{font-size:.85em;color:#333;margin:.2em 0}
#topology{display:flex;flex-wrap:wrap;gap:.3em .6em;font-size:.8em;max-height:4.4em;overflow:auto;margin:.2em 0 .4em}
.bridge{display:flex;flex-wrap:wrap;gap:.3em;align-items:center;border:2px solid #446;border-radius:6px;padding:.1em .4em;background:#fff}
.pod{border:1px solid #aaa;border-radius:4px;padding:0 .4em;background:#f4f7ff}
.check{color:#8a2be2;font-weight:bold}
.prog{font-size:.8em;color:#642}
table{border-collapse:collapse;width:100%;background:#fff;font-family:ui-monospace,monospace;font-size:19px}
th{font-family:system-ui,sans-serif;font-size:17px;background:#eee;position:sticky;top:0}
th,td{border-bottom:1px solid #ddd;padding:.15em .4em;text-align:left;white-space:nowrap}
td.why{white-space:normal;font-family:system-ui,sans-serif}
.other{color:#666;font-size:.85em}
.DROPPED-v{color:#b00;font-weight:bold} .FORWARDED-v{color:#070} .TRANSLATED-v{color:#05a} .none-v{color:#999}
tr.DROPPED{background:#fff2f2}
td.count{font-weight:bold}
</style></head><body>
<header><h1>ebpfcni observe</h1><span id="status">connecting…</span><button id="pause" type="button">pause</button></header>
<form id="filter" method="get" action="/">
<label>from-pod <input name="from-pod"></label>
<label>to-pod <input name="to-pod"></label>
<label>port <input name="port" inputmode="numeric"></label>
<label>protocol <select name="protocol"><option value="">any</option><option>TCP</option><option>UDP</option><option>ICMP</option><option>IPv6</option></select></label>
<label>verdict <select name="verdict"><option value="">any</option><option value="forwarded">FORWARDED</option><option value="dropped">DROPPED</option><option value="translated">TRANSLATED</option></select></label>
<label>since <input name="since" placeholder="5m"></label>
<button type="submit">filter</button> <a href="/">all flows</a>
<span id="filter-note"></span><span id="filter-error"></span>
</form>
<div id="legend"><b id="legend-sent">xdp_prog</b>: the sender's program (XDP: leaving its pod) ·
<b id="legend-received">to_pod</b>: the receiver's program (TC: entering its pod) ·
<span class="FORWARDED-v">FORWARDED</span> passed · <span class="DROPPED-v">DROPPED</span> dropped ·
<span class="TRANSLATED-v">TRANSLATED</span> a Service's connect() sent to a backend (lab 6) ·
<span class="none-v">—</span> not seen there · <b>×5</b> 5 packets alike, the last at that time</div>
<div id="topology">loading…</div>
<table><thead><tr><th>time (UTC)</th><th>from</th><th>to</th><th>proto</th><th id="h-sent">xdp_prog</th><th id="h-received">to_pod</th><th>why</th></tr></thead>
<tbody id="flows"></tbody></table>
<script>
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e }
const $ = (id) => document.getElementById(id)
const query = new URLSearchParams(location.search)
for (const [k, v] of query) { const i = document.querySelector('#filter [name="' + CSS.escape(k) + '"]'); if (i) i.value = v }
async function topology() {
  const box = $('topology')
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
        q.append(el('span', '', p.name + ' ' + (p.ip || 'no IP') + (labels ? ' ' + labels : '') + ' '))
        q.append(el('span', 'prog', p.hostVeth || '?'))
        q.title = (p.hostVeth || 'no host veth') + ': ' + (p.programs.map((g) => g.hook + ' ' + (g.name || 'program') + ' (id ' + g.id + ')').join(', ') || 'no program')
        d.append(q)
      }
      box.append(d)
    }
  } catch (e) { box.textContent = 'topology unavailable: ' + e }
}
topology(); setInterval(topology, 5000)

const newRows = (${flowRows.toString()})
let model = newRows()
const hhmmss = (iso) => iso.slice(11, 19)
const endText = (e, mixed) => (e.pod || (e.podUnknown ? e.ip + ' (pod unknown)' : e.ip)) + (e.port && !mixed ? ':' + e.port : '')
/** A flow without IPv4 addresses names the pod whose veth it ran on (the server does), or the veth. */
function ends(r) {
  const f = r.received || r.sent
  if (f.src.ip || f.dst.ip) return [endText(f.src, r.mixedSport), endText(f.dst, r.mixedDport)]
  const where = 'on ' + (f.interface || 'ifindex ' + f.ifindex)
  return f.direction === 'from-pod' ? [f.src.pod || where, ''] : ['', f.dst.pod || where]
}
const because = (f) => f.reasonText + ([f.policy, f.nearMiss, f.returned].filter(Boolean).length ? ' (' + [f.policy, f.nearMiss, f.returned].filter(Boolean).join(': ') + ')' : '')
let names = ['xdp_prog', 'to_pod']
function verdictCell(f, col) {
  if (!f) return el('td', 'none-v', '—')
  const td = el('td', f.verdict + '-v', (f.program === col ? '' : f.program + ' ') + f.verdict)
  td.title = f.program + ': ' + because(f)
  return td
}
function render() {
  const body = $('flows')
  const rows = model.rows().slice(0, 150)
  const lab5 = rows.some((r) => (r.sent || r.received).program.startsWith('from_'))
  names = lab5 ? ['from_pod', 'from_node'] : ['xdp_prog', 'to_pod']
  for (const [id, n] of [['h-sent', names[0]], ['h-received', names[1]], ['legend-sent', names[0]], ['legend-received', names[1]]]) $(id).textContent = n
  const out = []
  for (const r of rows) {
    const tr = el('tr', r.verdict)
    tr.dataset.time = r.lastTime
    tr.dataset.count = String(r.count)
    const [from, to] = ends(r)
    const f = r.received || r.sent
    tr.append(r.count > 1 ? el('td', 'count', '×' + r.count + ' last ' + hhmmss(r.lastTime)) : el('td', '', hhmmss(r.lastTime)))
    // A check run's own traffic (observe --checks) says so: it is not the attendee's pods'.
    const fromCell = el('td', '', from)
    if (f.check) fromCell.prepend(el('span', 'check', '[check ' + f.check + '] '))
    tr.append(fromCell, el('td', '', to), el('td', '', f.proto + (f.tcpFlags ? ' ' + f.tcpFlags : '')))
    tr.append(verdictCell(r.sent, names[0]), verdictCell(r.received, names[1]))
    // Why: the program that dropped it, else the last one that saw it; the other one's reason after it.
    const decided = r.sent && r.sent.verdict === 'DROPPED' ? r.sent : f
    const other = decided === r.sent ? r.received : r.sent
    const why = el('td', 'why', because(decided))
    if (other && other.reasonText !== decided.reasonText) why.append(el('span', 'other', ' · ' + other.program + ': ' + because(other)))
    tr.append(why)
    out.push(tr)
  }
  body.replaceChildren(...out)
}
let paused = false, missed = 0, scheduled = false
const show = () => {
  if (paused) return void ($('pause').textContent = 'resume (' + missed + ' new)')
  if (scheduled) return
  scheduled = true
  // A render already scheduled when pause is pressed must not draw what came before it.
  setTimeout(() => { scheduled = false; if (!paused) render() }, 100)
}
$('pause').onclick = () => {
  paused = !paused
  missed = 0
  $('pause').textContent = paused ? 'resume (0 new)' : 'pause'
  $('status').textContent = paused ? 'paused: new flows wait until you resume' : 'live'
  if (!paused) render()
}
setInterval(() => { if (model.flush(Date.now())) show() }, 100)
async function connect() {
  const checked = await fetch('/filter' + location.search)
  const answer = await checked.json()
  if (!checked.ok) {
    $('filter-error').textContent = 'not a filter: ' + answer.error
    $('status').textContent = 'no flows: fix the filter'
    return
  }
  if (answer.filter) $('filter-note').textContent = 'showing only ' + answer.filter
  const src = new EventSource('/flows' + location.search)
  let opened = false
  src.onopen = () => {
    // Reconnected (observe restarted, or the connection dropped): the server sends its history
    // again, so the table starts over from it rather than counting those packets twice.
    if (opened) { model = newRows(); show() }
    opened = true
    $('status').textContent = paused ? 'paused: new flows wait until you resume' : 'live'
  }
  src.onerror = () => { $('status').textContent = 'disconnected: is observe --web still running?' }
  src.onmessage = (m) => { missed++; model.add(JSON.parse(m.data), Date.now()); show() }
}
connect().catch((e) => { $('status').textContent = 'cannot reach observe --web: ' + e })
</script></body></html>
`
