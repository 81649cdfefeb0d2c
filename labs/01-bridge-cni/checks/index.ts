// Lab 1's checks, one file per step that first lists them; lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab1Context} from '../context.js'
import {SKELETON_CHECKS} from './skeleton.js'
import {ADD_CHECKS} from './add.js'
import {DEL_CHECKS} from './del.js'
import {PRODUCTION_CHECKS} from './production.js'

export const LAB1_CHECKS: Array<CheckDefinition<Lab1Context>> = [
  ...SKELETON_CHECKS,
  ...ADD_CHECKS,
  ...DEL_CHECKS,
  ...PRODUCTION_CHECKS,
]
