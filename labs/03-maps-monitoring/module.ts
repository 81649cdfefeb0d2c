import {contextOptions, PROGRAM_FILES, type LabModule} from '#engine/lab-module.js'
import {LAB3_CHECKS} from './checks/index.js'
import {lab3Context, type Lab3Context} from './context.js'

/** Lab 3: a pinned counter map and its exporter. Discovered by its folder (registry.ts); its steps order the checks. */
const lab3: LabModule<Lab3Context> = {
  files: PROGRAM_FILES,
  buildsOn: [2],
  checks: LAB3_CHECKS,
  context: (o) => lab3Context(contextOptions(o, PROGRAM_FILES, {criTraffic: true})),
}
export default lab3
