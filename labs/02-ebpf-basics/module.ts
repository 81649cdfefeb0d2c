import {contextOptions, PROGRAM_FILES, type LabModule} from '#engine/lab-module.js'
import {LAB2_CHECKS} from './checks/index.js'
import {lab2Context, type Lab2Context} from './context.js'
import {bpfPinsDiscoverer} from './reset.js'

/** Lab 2: an XDP program the plugin attaches. Discovered by its folder (registry.ts); its steps order the checks. */
const lab2: LabModule<Lab2Context> = {
  files: PROGRAM_FILES,
  buildsOn: [1],
  checks: LAB2_CHECKS,
  context: (o) => lab2Context(contextOptions(o, PROGRAM_FILES, {criTraffic: true})),
  discoverers: [bpfPinsDiscoverer],
}
export default lab2
