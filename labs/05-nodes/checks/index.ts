// Lab 5's checks, one file per step that first lists them; lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab5Context} from '../context.js'
import {ROUTES_CHECKS} from './routes.js'
import {OVERLAY_CHECKS} from './overlay.js'
import {NOBRIDGE_CHECKS} from './nobridge.js'
import {FIB_CHECKS} from './fib.js'
import {MODERN_CHECKS} from './modern.js'

export const LAB5_CHECKS: Array<CheckDefinition<Lab5Context>> = [
  ...ROUTES_CHECKS,
  ...OVERLAY_CHECKS,
  ...NOBRIDGE_CHECKS,
  ...FIB_CHECKS,
  ...MODERN_CHECKS,
]
