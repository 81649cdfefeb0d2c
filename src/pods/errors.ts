import {UserError} from '../host/errors.js'
import type {NetworkOutcome} from '../cni/network.js'

/** A pod operation that failed: names the step and what was seen. */
export class PodError extends UserError {
  constructor(
    readonly step: string,
    readonly seen: string,
    readonly outcome?: NetworkOutcome,
    /** The cause the failure showed, when it showed one (a failed ADD's, from cni/add-failure). */
    hint?: string,
  ) {
    super(`${step}: ${seen}`, {exitCode: 1, hint})
    this.name = 'PodError'
  }
}
