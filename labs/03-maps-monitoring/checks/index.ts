// Lab 3's checks, one file per step that first lists them; lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab3Context} from '../context.js'
import {COUNTER_CHECKS} from './counter.js'
import {METRICS_CHECKS} from './metrics.js'
import {PERCPU_CHECKS} from './percpu.js'

export const LAB3_CHECKS: Array<CheckDefinition<Lab3Context>> = [...COUNTER_CHECKS, ...METRICS_CHECKS, ...PERCPU_CHECKS]
