import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'

// A room of any size for `fleet top`, without 500 VMs: a stand-in for Prometheus's HTTP API on
// 127.0.0.1 that answers the instant queries fleet top sends with the series a real Prometheus
// holds after scraping each VM's node-exporter (job ebpfcni, instance and attendee labels, the
// `fleet textfile` metric names). test/integration/fleet.test.ts proves the same path against a
// real Prometheus and real node-exporters; this one is for the room at its real size.

export interface RoomVm {
  attendee: string
  instance: string
  /** Prometheus scraped it (up == 1). */
  up: boolean
  /** The step it is on; none: not started. */
  lab?: number
  step?: string
  attempts?: number
  hints?: number
  /** Minutes since the step was opened, and since it last got further. */
  startedMinAgo?: number
  progressMinAgo?: number
  failing?: string
}

/** Real step ids, lab by lab (what a room's attendees are spread over). */
const STEPS: Array<[number, string]> = [
  [1, 'skeleton'],
  [1, 'add'],
  [1, 'del'],
  [1, 'production'],
  [2, 'program'],
  [2, 'attach'],
  [2, 'trace'],
  [3, 'counter'],
  [3, 'metrics'],
  [3, 'percpu'],
  [4, 'deny'],
  [4, 'networkpolicy'],
  [4, 'conntrack'],
  [5, 'routes'],
]
const FAILING = ['cni.add.ip', 'xdp.loads', 'policy.isolated-closed', 'nodes.forwarding', 'metrics.promtool']

/**
 * A room of `n` VMs, the same every time: every 25th down, every 10th (from the 4th) stuck on its
 * step for 25 minutes, every 7th not started, the rest busy on a step, spread over the labs.
 */
export function roomOf(n: number): RoomVm[] {
  return Array.from({length: n}, (_, k) => {
    const i = k + 1
    const address = `10.${100 + Math.floor(i / 250)}.${Math.floor(i / 250) ? i % 250 : i}.2`
    const vm = {attendee: `root@${address}`, instance: `${address}:9100`}
    if (i % 25 === 0) return {...vm, up: false}
    if (i % 7 === 0) return {...vm, up: true}
    const [lab, step] = STEPS[i % STEPS.length]
    const stuck = i % 10 === 4
    return {
      ...vm,
      up: true,
      lab,
      step,
      attempts: stuck ? 3 : i % 3,
      hints: stuck ? 2 : i % 2,
      startedMinAgo: stuck ? 30 : 4,
      progressMinAgo: stuck ? 25 : 1,
      ...(stuck || i % 3 === 1 ? {failing: FAILING[i % FAILING.length]} : {}),
    }
  })
}

export interface FakePrometheus {
  url: string
  vms: RoomVm[]
  queries: number
  close(): Promise<void>
}

type Sample = {metric: Record<string, string>; value: [number, string]}

export async function fakePrometheus(vms: RoomVm[]): Promise<FakePrometheus> {
  const fake = {vms, queries: 0} as unknown as FakePrometheus
  const answer = (query: string, now: number): Sample[] | undefined => {
    const labels = (v: RoomVm) => ({job: 'ebpfcni', instance: v.instance, attendee: v.attendee})
    const onStep = fake.vms.filter((v) => v.up && v.step)
    const stepLabels = (v: RoomVm) => ({...labels(v), lab: String(v.lab), step: v.step as string})
    const each = (name: string, value: (v: RoomVm) => number) =>
      onStep.map((v) => ({metric: {__name__: name, ...stepLabels(v)}, value: [now, String(value(v))]}) as Sample)
    switch (query) {
      case 'up{job="ebpfcni"}':
        return fake.vms.map((v) => ({metric: {__name__: 'up', ...labels(v)}, value: [now, v.up ? '1' : '0']}))
      case 'ebpfcni_step_current == 1':
        return each('ebpfcni_step_current', () => 1)
      case 'ebpfcni_step_done':
        // A VM not started still serves its steps, none done and none current.
        return [
          ...each('ebpfcni_step_done', () => 0),
          ...fake.vms
            .filter((v) => v.up && !v.step)
            .map((v) => ({
              metric: {__name__: 'ebpfcni_step_done', ...labels(v), lab: '1', step: 'skeleton'},
              value: [now, '0'] as [number, string],
            })),
        ]
      case 'ebpfcni_step_attempts':
        return each('ebpfcni_step_attempts', (v) => v.attempts ?? 0)
      case 'ebpfcni_hints_shown':
        return each('ebpfcni_hints_shown', (v) => v.hints ?? 0)
      case 'ebpfcni_step_started_seconds':
        return each('ebpfcni_step_started_seconds', (v) => now - (v.startedMinAgo ?? 0) * 60 - 20)
      case 'ebpfcni_step_progress_seconds':
        return each('ebpfcni_step_progress_seconds', (v) => now - (v.progressMinAgo ?? 0) * 60 - 20)
      case 'ebpfcni_step_failing == 1':
        return onStep
          .filter((v) => v.failing)
          .map((v) => ({
            metric: {__name__: 'ebpfcni_step_failing', ...stepLabels(v), check: v.failing as string},
            value: [now, '1'],
          }))
      default:
        return undefined
    }
  }
  const server: Server = createServer((req, res) => {
    fake.queries++
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const result =
      url.pathname === '/api/v1/query' ? answer(url.searchParams.get('query') ?? '', Date.now() / 1000) : undefined
    res.writeHead(result ? 200 : 400, {'content-type': 'application/json'})
    res.end(
      JSON.stringify(
        result
          ? {status: 'success', data: {resultType: 'vector', result}}
          : {status: 'error', errorType: 'bad_data', error: `the stand-in does not know ${url.pathname} ${url.search}`},
      ),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return fake
}
