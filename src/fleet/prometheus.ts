import {stringify} from 'yaml'
import type {FleetHost} from './hosts.js'
import {rowAt, type AttendeeRow, type LabView, type StepView, type StuckRule} from './attendee.js'

// The fleet in Prometheus: each attendee VM's node-exporter serves the textfile `fleet textfile`
// writes; the instructor's Prometheus scrapes them all (file_sd: edit the targets file, no restart)
// and records who is on which step and who is stuck. `fleet top` reads it back.

export const JOB = 'ebpfcni'
export const TARGETS_FILE = 'ebpfcni-targets.json'
export const RULES_FILE = 'ebpfcni-rules.yml'

const target = (address: string, port: number): string => `${address.includes(':') ? `[${address}]` : address}:${port}`

/** file_sd groups: one per VM, labelled with its name in the host list. */
export function fileSdTargets(hosts: readonly FleetHost[], exporterPort: number): unknown[] {
  return hosts.map((h) => ({targets: [target(h.address, exporterPort)], labels: {attendee: h.name}}))
}

export function prometheusConfig(o: {scrapeIntervalS: number}): string {
  const config = {
    global: {scrape_interval: `${o.scrapeIntervalS}s`, evaluation_interval: `${o.scrapeIntervalS}s`},
    rule_files: [RULES_FILE],
    scrape_configs: [
      {
        job_name: JOB,
        file_sd_configs: [{files: [TARGETS_FILE], refresh_interval: '30s'}],
        // node-exporter serves hundreds of machine series per VM; the fleet needs ebpfcni's only.
        metric_relabel_configs: [{source_labels: ['__name__'], regex: 'ebpfcni_.*', action: 'keep'}],
      },
    ],
  }
  return `# Written by ebpfcni fleet prometheus: prometheus --config.file=THIS_FILE\n${stringify(config)}`
}

/** Recording rules: attendees per step, and how long each attendee on a failing step has made no progress. */
export function recordingRules(o: {stuckMinutes: number}): string {
  const rules = {
    groups: [
      {
        name: 'ebpfcni-room',
        rules: [
          {record: 'ebpfcni:attendees_on_step', expr: 'count by (lab, step) (ebpfcni_step_current == 1)'},
          {
            // Seconds since the attendee's current step last got further, for steps not done that
            // have failed at least once: "stuck" is this over the instructor's threshold.
            record: 'ebpfcni:no_progress_seconds',
            expr: [
              '(time() - ebpfcni_step_progress_seconds)',
              '  and on (instance, lab, step) (ebpfcni_step_current == 1)',
              '  and on (instance, lab, step) (ebpfcni_step_done == 0)',
              '  and on (instance, lab, step) (ebpfcni_step_attempts > 0)',
            ].join('\n'),
          },
          {
            record: 'ebpfcni:attendees_stuck',
            expr: `count by (lab, step) (ebpfcni:no_progress_seconds >= ${o.stuckMinutes * 60})`,
          },
          {
            alert: 'EbpfcniAttendeeStuck',
            expr: `ebpfcni:no_progress_seconds >= ${o.stuckMinutes * 60}`,
            labels: {severity: 'info'},
            annotations: {
              summary: `{{ $labels.attendee }} has made no progress on lab {{ $labels.lab }} {{ $labels.step }} for ${o.stuckMinutes}+ minutes`,
            },
          },
        ],
      },
    ],
  }
  return `# Written by ebpfcni fleet prometheus.\n${stringify(rules, {lineWidth: 0})}`
}

interface Sample {
  metric: Record<string, string>
  value: [number, string]
}

/** One instant query against Prometheus's HTTP API. */
export async function instantQuery(base: string, query: string, timeoutMs: number): Promise<Sample[]> {
  const url = new URL('/api/v1/query', base)
  url.searchParams.set('query', query)
  let res: Response
  try {
    res = await fetch(url, {signal: AbortSignal.timeout(timeoutMs)})
  } catch (e) {
    const c = (e as {cause?: {code?: string; message?: string}}).cause
    const cause = c?.code ?? c?.message ?? (e as Error).message
    throw new Error(`Prometheus at ${base} did not answer (${cause})`)
  }
  const body = (await res.json().catch(() => undefined)) as
    {status?: string; error?: string; data?: {resultType?: string; result?: Sample[]}} | undefined
  if (!res.ok || body?.status !== 'success' || !Array.isArray(body.data?.result))
    throw new Error(`Prometheus at ${base} refused "${query}": ${body?.error ?? `HTTP ${res.status}`}`)
  return body.data.result
}

const iso = (seconds: string | undefined): string | null =>
  seconds === undefined ? null : new Date(Number(seconds) * 1000).toISOString()

/** The fleet's rows from what Prometheus holds now: one per scraped VM. */
export async function fleetFromPrometheus(
  base: string,
  o: {stuckMinutes: number; timeoutMs: number},
): Promise<AttendeeRow[]> {
  const q = (query: string) => instantQuery(base, query, o.timeoutMs)
  const [up, current, done, attempts, hints, started, progress, failing] = await Promise.all([
    q(`up{job="${JOB}"}`),
    q('ebpfcni_step_current == 1'),
    q('ebpfcni_step_done'),
    q('ebpfcni_step_attempts'),
    q('ebpfcni_hints_shown'),
    q('ebpfcni_step_started_seconds'),
    q('ebpfcni_step_progress_seconds'),
    q('ebpfcni_step_failing == 1'),
  ])
  const now = (up[0]?.value[0] ?? Date.now() / 1000) * 1000
  const key = (m: Record<string, string>) => `${m.instance}\u0000${m.lab}\u0000${m.step}`
  const byKey = (samples: Sample[]) => new Map(samples.map((s) => [key(s.metric), s]))
  const [attemptsOf, hintsOf, startedOf, progressOf] = [attempts, hints, started, progress].map(byKey)
  const failingOf = byKey(failing)
  const currentOf = new Map(current.map((s) => [s.metric.instance, s.metric]))
  const stepsOf = new Map<string, Map<number, StepView[]>>()
  for (const d of done) {
    const k = key(d.metric)
    const view: StepView = {
      id: d.metric.step,
      done: d.value[1] === '1',
      attempts: Number(attemptsOf.get(k)?.value[1] ?? 0),
      hintsSeen: Number(hintsOf.get(k)?.value[1] ?? 0),
      startedAt: iso(startedOf.get(k)?.value[1]),
      lastCheckedAt: null,
      progressAt: iso(progressOf.get(k)?.value[1]),
      failing: failingOf.get(k)?.metric.check ?? null,
    }
    const labs = stepsOf.get(d.metric.instance) ?? new Map<number, StepView[]>()
    const lab = Number(d.metric.lab)
    labs.set(lab, [...(labs.get(lab) ?? []), view])
    stepsOf.set(d.metric.instance, labs)
  }
  const rule: StuckRule = {stuckMinutes: o.stuckMinutes, now}
  return up.map((u): AttendeeRow => {
    const host = u.metric.attendee ?? u.metric.instance
    if (u.value[1] !== '1')
      return {host, state: 'down', message: `Prometheus cannot scrape ${u.metric.instance} (up == 0)`, stuck: false}
    const labs: LabView[] = [...(stepsOf.get(u.metric.instance) ?? new Map<number, StepView[]>())].map(
      ([lab, steps]) => ({
        lab,
        steps,
      }),
    )
    if (labs.length === 0)
      return {
        host,
        state: 'error',
        message: 'node-exporter answers but serves no ebpfcni metrics (is the timer on?)',
        stuck: false,
      }
    const cur = currentOf.get(u.metric.instance)
    const step = cur && labs.find((l) => l.lab === Number(cur.lab))?.steps.find((s) => s.id === cur.step)
    if (!cur || !step) return {host, state: 'idle', message: 'no step opened yet', stuck: false}
    return rowAt(host, Number(cur.lab), step, labs, rule)
  })
}
