import {contextOptions, PROGRAM_FILES, type LabModule} from '#engine/lab-module.js'
import {LAB4_CHECKS} from './checks/index.js'
import {lab4Context, type Lab4Context} from './context.js'
import {policyStateDiscoverer} from './reset.js'

/** Lab 4: policy in the datapath. Discovered by its folder (registry.ts); its steps order the checks. */
const lab4: LabModule<Lab4Context> = {
  files: PROGRAM_FILES,
  buildsOn: [3],
  checks: LAB4_CHECKS,
  context: (o) => lab4Context(contextOptions(o, PROGRAM_FILES, {criTraffic: true})),
  discoverers: [policyStateDiscoverer],
}
export default lab4
