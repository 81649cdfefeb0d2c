// Lab 2's checks, one file per step that first lists them; lab.yaml orders the run.
import type {CheckDefinition} from '#checks/engine.js'
import type {Lab2Context} from '../context.js'
import {PROGRAM_CHECKS} from './program.js'
import {ATTACH_CHECKS} from './attach.js'
import {TRACE_CHECKS} from './trace.js'

export const LAB2_CHECKS: Array<CheckDefinition<Lab2Context>> = [...PROGRAM_CHECKS, ...ATTACH_CHECKS, ...TRACE_CHECKS]

/** One of lab 2's checks, for the labs that build on it (3 and 4 compile and verify the same way). */
export const lab2Check = <Ctx extends Lab2Context>(id: string): CheckDefinition<Ctx> =>
  LAB2_CHECKS.find((c) => c.id === id) as CheckDefinition<Ctx>
