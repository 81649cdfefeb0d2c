import {contextOptions, PLUGIN_FILES, type LabModule} from '#engine/lab-module.js'
import {LAB1_CHECKS} from './checks/index.js'
import {lab1Context, type Lab1Context} from './context.js'
import {lab1Discoverer} from './reset.js'

/** Lab 1: the bridge CNI plugin. Discovered by its folder (registry.ts); its steps order the checks. */
const lab1: LabModule<Lab1Context> = {
  files: PLUGIN_FILES,
  buildsOn: [],
  checks: LAB1_CHECKS,
  context: (o) => lab1Context(contextOptions(o, PLUGIN_FILES)),
  discoverers: [lab1Discoverer],
}
export default lab1
