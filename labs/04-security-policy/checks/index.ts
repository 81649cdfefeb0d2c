// Lab 4's checks, one file per step that first lists them (and flow-events.ts, step networkpolicy's
// checks of what observe shows); lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {DENY_CHECKS} from './deny.js'
import {NETWORKPOLICY_CHECKS} from './networkpolicy.js'
import {FLOW_EVENT_CHECKS} from './flow-events.js'
import {SPOOFING_CHECKS} from './spoofing.js'
import {IDENTITY_CHECKS} from './identity.js'

export const LAB4_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  ...DENY_CHECKS,
  ...NETWORKPOLICY_CHECKS,
  ...FLOW_EVENT_CHECKS,
  ...SPOOFING_CHECKS,
  ...IDENTITY_CHECKS,
]
