import {contextOptions, PLUGIN_INSTALLS, type LabModule} from '../lab-module.js'
import {LAB3_CHECKS} from './checks.js'
import {lab3Context, type Lab3Context} from './context.js'

/** Lab 3: the learner's plugin and config installed, its checks, and their context. */
export const lab3: LabModule<Lab3Context> = {
  installs: PLUGIN_INSTALLS,
  checks: LAB3_CHECKS,
  context: (o) => lab3Context(contextOptions(o, 3)),
}
