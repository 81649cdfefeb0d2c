import {contextOptions, PLUGIN_INSTALLS, type LabModule} from '../lab-module.js'
import {LAB1_CHECKS} from './checks.js'
import {lab1Context, type Lab1Context} from './context.js'

/** Lab 1: the learner's plugin and config installed, its checks, and their context. */
export const lab1: LabModule<Lab1Context> = {
  installs: PLUGIN_INSTALLS,
  checks: LAB1_CHECKS,
  context: (o) => lab1Context(contextOptions(o, 1)),
}
