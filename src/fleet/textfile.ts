import {existsSync, mkdirSync, readFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {writeFileAtomic} from '../host/atomic-file.js'
import {whereNow} from './attendee.js'

// The fleet's view of one attendee VM, for Prometheus: the progress `status --json` shows, and the
// provisioning's own verdicts (doctor, the smoke test), as node-exporter textfile metrics. Debian's
// prometheus-node-exporter reads /var/lib/prometheus/node-exporter/*.prom; a timer rewrites the
// file (atomically: the exporter never reads half of one). No Pushgateway: Prometheus's own docs
// advise against it for machine-level state like this.

export const TEXTFILE_PATH = '/var/lib/prometheus/node-exporter/ebpfcni.prom'

export interface StepStatus {
  id: string
  done: boolean
  attempts: number
  hintsSeen: number
  checksPassed: number
  checksTotal: number
  startedAt?: string | null
  lastCheckedAt?: string | null
  progressAt?: string | null
  failing?: string | null
}

export interface LabStatus {
  lab: number
  steps: StepStatus[]
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** Did a provisioning verdict file (doctor --json, lab all --auto --json) say all is well? undefined: no file. */
export function verdictOk(file: string): boolean | undefined {
  if (!existsSync(file)) return undefined
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as {ok?: boolean; passed?: boolean; failed?: number}
    return v.ok ?? v.passed ?? (typeof v.failed === 'number' ? v.failed === 0 : false)
  } catch {
    return false
  }
}

/** The metrics, in the Prometheus text format. */
export function textfileMetrics(
  labs: LabStatus[],
  o: {version: string; doctorOk?: boolean; smokeOk?: boolean; now?: number},
): string {
  const out: string[] = []
  const family = (name: string, help: string, type: 'gauge' | 'counter', rows: Array<[string, number]>) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows.map(([l, v]) => `${name}${l} ${v}`))
  }
  const perStep = (pick: (s: StepStatus) => number) =>
    labs.flatMap((l) => l.steps.map((s): [string, number] => [`{lab="${l.lab}",step="${esc(s.id)}"}`, pick(s)]))
  family(
    'ebpfcni_step_done',
    '1 when the step passed its checks (ebpfcni status).',
    'gauge',
    perStep((s) => (s.done ? 1 : 0)),
  )
  family(
    'ebpfcni_step_attempts',
    'Check runs of the step so far.',
    'gauge',
    perStep((s) => s.attempts),
  )
  family(
    'ebpfcni_hints_shown',
    'Hints of the step the attendee has seen.',
    'gauge',
    perStep((s) => s.hintsSeen),
  )
  family(
    'ebpfcni_step_checks_passed',
    'Checks of the step that passed at its last run (with ebpfcni_step_checks: who is stuck where).',
    'gauge',
    perStep((s) => s.checksPassed),
  )
  family(
    'ebpfcni_step_checks',
    'Checks of the step at its last run.',
    'gauge',
    perStep((s) => s.checksTotal),
  )
  // Where the attendee is and since when: fleet top's columns and the "stuck" recording rule.
  const where = whereNow(
    labs.map((l) => ({
      lab: l.lab,
      steps: l.steps.map((st) => ({
        ...st,
        startedAt: st.startedAt ?? null,
        lastCheckedAt: st.lastCheckedAt ?? null,
        progressAt: st.progressAt ?? null,
        failing: st.failing ?? null,
      })),
    })),
  )
  const label = (lab: number, step: string) => `{lab="${lab}",step="${esc(step)}"}`
  family(
    'ebpfcni_step_current',
    'The step the attendee is on (most recently opened or checked): 1 on that step only.',
    'gauge',
    where ? [[label(where.lab, where.step.id), 1]] : [],
  )
  const started = labs.flatMap((l) => l.steps.filter((st) => st.startedAt).map((st) => ({lab: l.lab, st})))
  const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000)
  family(
    'ebpfcni_step_started_seconds',
    'When the attendee first opened or checked the step (Unix time).',
    'gauge',
    started.map(({lab, st}): [string, number] => [label(lab, st.id), seconds(st.startedAt as string)]),
  )
  family(
    'ebpfcni_step_progress_seconds',
    'When the step last got further: more checks passing, or done; its start before that (Unix time).',
    'gauge',
    started.map(({lab, st}): [string, number] => [
      label(lab, st.id),
      seconds((st.progressAt ?? st.startedAt) as string),
    ]),
  )
  family(
    'ebpfcni_step_failing',
    "The first check that failed at the step's last run (1), while the step is not done.",
    'gauge',
    labs.flatMap((l) =>
      l.steps
        .filter((st) => st.failing && !st.done)
        .map((st): [string, number] => [
          `{lab="${l.lab}",step="${esc(st.id)}",check="${esc(st.failing as string)}"}`,
          1,
        ]),
    ),
  )
  if (o.doctorOk !== undefined)
    family('ebpfcni_doctor_ok', '1 when ebpfcni doctor passed at provisioning.', 'gauge', [['', o.doctorOk ? 1 : 0]])
  if (o.smokeOk !== undefined)
    family('ebpfcni_smoke_ok', "1 when lab all --auto passed at provisioning (every step's solution).", 'gauge', [
      ['', o.smokeOk ? 1 : 0],
    ])
  family('ebpfcni_info', 'ebpfcni on this machine.', 'gauge', [[`{version="${esc(o.version)}"}`, 1]])
  family('ebpfcni_textfile_written_seconds', 'When this file was written (Unix time).', 'gauge', [
    ['', Math.floor((o.now ?? Date.now()) / 1000)],
  ])
  return `${out.join('\n')}\n`
}

export function writeTextfile(path: string, text: string): void {
  mkdirSync(dirname(path), {recursive: true})
  writeFileAtomic(path, text)
}
