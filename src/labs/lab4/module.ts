import {contextOptions, PLUGIN_INSTALLS, type LabModule} from '../lab-module.js'
import {LAB4_CHECKS} from './checks.js'
import {lab4Context, type Lab4Context} from './context.js'

/** Lab 4: the learner's plugin and config installed, its checks, and their context. */
export const lab4: LabModule<Lab4Context> = {
  installs: PLUGIN_INSTALLS,
  checks: LAB4_CHECKS,
  context: (o) => lab4Context(contextOptions(o, 4)),
}
