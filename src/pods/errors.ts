import {UserError} from '../host/errors.js'
import type {NetworkOutcome} from '../cni/network.js'

/** A pod operation that failed: names the step and what was seen. */
export class PodError extends UserError {
  constructor(
    readonly step: string,
    readonly seen: string,
    readonly outcome?: NetworkOutcome,
  ) {
    super(`${step}: ${seen}`, {exitCode: 1})
    this.name = 'PodError'
  }
}
