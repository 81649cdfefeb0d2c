import {contextOptions, PLUGIN_FILES, type LabModule} from '#engine/lab-module.js'
import {LAB6_CHECKS} from './checks/index.js'
import {lab6Context, type Lab6Context} from './context.js'
import {servicesCgroupDiscoverer} from './reset.js'

/** Lab 6: Services without kube-proxy. Discovered by its folder (registry.ts); its steps order the checks. */
const lab6: LabModule<Lab6Context> = {
  files: PLUGIN_FILES,
  buildsOn: [1],
  checks: LAB6_CHECKS,
  context: (o) => lab6Context(contextOptions(o, PLUGIN_FILES)),
  discoverers: [servicesCgroupDiscoverer],
}
export default lab6
