import {type LabModule} from '#engine/lab-module.js'
import {LAB6_CHECKS} from './checks/index.js'
import {lab6Context, type Lab6Context} from './context.js'
import {servicesCgroupDiscoverer} from './reset.js'
import {workspacePinDir} from '#engine/deploy.js'
import {servicesAgent} from './export.js'

/** Lab 6: Services without kube-proxy. Discovered by its folder (registry.ts); its steps order the checks. */
const lab6: LabModule<Lab6Context> = {
  // services.bpf.c only: ebpfcni builds, loads and attaches it itself in each check run, and the
  // run's pods stand on lab 1's reference plugin in a network of the run's own (context.ts).
  files: {},
  buildsOn: [],
  checks: LAB6_CHECKS,
  context: (o) =>
    lab6Context({
      runtime: o.runtime,
      ledger: o.ledger,
      timeoutMs: o.timeoutMs,
      workspace: o.workspace,
      lab: o.lab,
      // The flow ring is lab 4's (its config's pin dir): observe shows the translations with lab 4's verdicts.
      pinDir: workspacePinDir(o.workspace, {config: '10-ebpfcni.conf'}),
    }),
  discoverers: [servicesCgroupDiscoverer],
  agent: servicesAgent,
}
export default lab6
