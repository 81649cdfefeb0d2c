import {contextOptions, PLUGIN_INSTALLS, type LabModule} from '../lab-module.js'
import {LAB2_CHECKS} from './checks.js'
import {lab2Context, type Lab2Context} from './context.js'

/** Lab 2: the learner's plugin and config installed, its checks, and their context. */
export const lab2: LabModule<Lab2Context> = {
  installs: PLUGIN_INSTALLS,
  checks: LAB2_CHECKS,
  context: (o) => lab2Context(contextOptions(o, 2)),
}
