import {contextOptions, PLUGIN_FILES, type LabModule} from '#engine/lab-module.js'
import {LAB5_CHECKS} from './checks/index.js'
import {lab5Context, type Lab5Context} from './context.js'

/** Lab 5: pods across simulated nodes. Discovered by its folder (registry.ts); its steps order the checks. */
const lab5: LabModule<Lab5Context> = {
  files: PLUGIN_FILES,
  buildsOn: [1],
  checks: LAB5_CHECKS,
  context: (o) => lab5Context(contextOptions(o, PLUGIN_FILES)),
}
export default lab5
