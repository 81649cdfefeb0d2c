import {Listr, ListrDefaultRendererLogLevels} from 'listr2'
import chalk from 'chalk'
import type {CheckReport, CheckResult} from '../checks/engine.js'
import type {RunChecksOptions} from '../labs/checker.js'
import {wrapWords} from './render.js'
import {terminalWidth} from './wrap.js'

type OnCheck = NonNullable<RunChecksOptions['onCheck']>

const plain = (s?: string): string => s ?? ''

/**
 * A step's checks as a live listr2 list: each check spins while it runs and ends as
 * ✔ (with what it saw), ✖ (seen + hint) or skipped. The checks still run in order,
 * through runChecks; this only renders its progress callbacks.
 */
export async function runWithCheckList(
  checks: Array<{id: string; title: string}>,
  run: (onCheck: OnCheck) => Promise<CheckReport>,
): Promise<CheckReport> {
  const waiting = new Map<string, {resolve: (r: CheckResult) => void; promise: Promise<CheckResult>}>()
  for (const c of checks) {
    let resolve!: (r: CheckResult) => void
    const promise = new Promise<CheckResult>((r) => (resolve = r))
    waiting.set(c.id, {resolve, promise})
  }
  const list = new Listr(
    checks.map((c) => ({
      title: `${c.title} ${chalk.dim(`[${c.id}]`)}`,
      task: async (_ctx: unknown, task: {title: string; skip: (m?: string) => void; output?: string}) => {
        const r = await waiting.get(c.id)!.promise
        // The title once: a skip replaces it (collapsed), a failure adds what was seen and the hint below it.
        if (r.status === 'skip') return task.skip(`${c.title} ${chalk.dim(`[${c.id}] — skipped: ${r.message}`)}`)
        if (r.status === 'fail') {
          // Wrapped here at words under their label (listr2 would wrap them flush, a space first).
          const room = terminalWidth() - 5
          const seen = wrapWords(`${chalk.red('seen:')} ${r.message}`, room, '      ')
          throw new Error(seen + (r.hint ? `\n${wrapWords(`${chalk.yellow('hint:')} ${r.hint}`, room, '      ')}` : ''))
        }
        task.title = `${c.title} ${chalk.dim(`— ${r.message}`)}`
      },
    })),
    {
      concurrent: true,
      exitOnError: false,
      rendererOptions: {
        collapseErrors: false,
        collapseSkips: true,
        // --no-color reaches the list too (listr2 reads only NO_COLOR, when it loads).
        ...(chalk.level === 0
          ? {color: Object.fromEntries(Object.values(ListrDefaultRendererLogLevels).map((l) => [l, plain]))}
          : {}),
      },
    },
  )
  const shown = list.run().catch(() => undefined)
  let report: CheckReport | undefined
  try {
    report = await run((id, _title, result) => {
      if (result) waiting.get(id)?.resolve(result)
    })
  } finally {
    // Checks the run never reached (it stops at the first failure, or an install error threw) must
    // not leave the list spinning: they show as skipped, and the summary counts them so.
    const why = report ? 'not run (an earlier check failed)' : 'not run'
    for (const [id, w] of waiting) w.resolve({id, title: id, status: 'skip', message: why})
    await shown
  }
  return report
}
