// Lab 4's checks, one file per step (a check several steps run lives with the step whose work it
// checks: policy.conntrack in conntrack.ts); lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab4Context} from '../context.js'
import {DENY_CHECKS} from './deny.js'
import {NETWORKPOLICY_CHECKS} from './networkpolicy.js'
import {CONNTRACK_CHECKS} from './conntrack.js'
import {SPOOFING_CHECKS} from './spoofing.js'
import {IDENTITY_CHECKS} from './identity.js'

export const LAB4_CHECKS: Array<CheckDefinition<Lab4Context>> = [
  ...DENY_CHECKS,
  ...NETWORKPOLICY_CHECKS,
  ...CONNTRACK_CHECKS,
  ...SPOOFING_CHECKS,
  ...IDENTITY_CHECKS,
]
