import {errorMessage} from '../host/errors.js'
import {fail, runCheck, runCheckList, type CheckDefinition, type CheckResult} from '../checks/engine.js'
import {doctorItems} from './items.js'

// Doctor runs its items (items.ts) on the check engine, as the labs' checks run, and with --fix
// repairs what it can and checks that item again.

/** Doctor's items as checks of the one engine, each with the repair --fix may try. */
export interface DoctorCheck extends CheckDefinition<void> {
  repair?: () => Promise<void>
}

/** A doctor verdict: the engine's result, and what --fix did. */
export interface DoctorResult extends CheckResult {
  required: boolean
  /** Set when --fix tried to repair it. */
  fixed?: boolean
  fixError?: string
}

/** Each item as a check: its probe's detail is the message, a failing probe fails it. */
export function doctorChecks(): DoctorCheck[] {
  return doctorItems().map(({probe, ...item}) => ({
    ...item,
    cost: 'cheap',
    run: async () => {
      const seen = await probe()
      if (!seen.ok) fail(seen.detail)
      return seen.detail
    },
  }))
}

/** Every item, on the engine; with `fix`, a failing item that can be repaired is, then checked again. */
export async function runDoctor(opts: {fix?: boolean} = {}): Promise<DoctorResult[]> {
  const checks = doctorChecks()
  const results = await runCheckList(checks, undefined)
  const out: DoctorResult[] = []
  for (const [i, first] of results.entries()) {
    const check = checks[i]
    const result: DoctorResult = {...first, required: !check.optional}
    if (first.status !== 'pass' && opts.fix && check.repair) {
      try {
        await check.repair()
        const again = await runCheck(check, undefined)
        Object.assign(result, again, {fixed: again.status === 'pass'})
      } catch (err) {
        Object.assign(result, {fixed: false, fixError: errorMessage(err)})
      }
    }
    out.push(result)
  }
  return out
}
