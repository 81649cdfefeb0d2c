import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {buildBpf} from '#bpf/build.js'
import {UserError} from '#host/errors.js'
import type {LabAgent} from '#engine/lab-module.js'
import {AGENT_FILE} from './agent.js'
import {SERVICES_PROGRAM} from './context.js'
import {AGENT_OBJECT, runNodeAgent} from './node-agent.js'

// Lab 6's node agent as `export kubernetes` carries it: the learner's services.bpf.c built here
// (the node image has no clang) and their agent.mjs, run on every node by `ebpfcni agent 6`.

/** services.bpf.c built, and agent.mjs, from a workspace: what the node agent runs. */
async function agentFiles(workspace: string): Promise<Record<string, Buffer>> {
  const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-services-export-'))
  try {
    const built = await buildBpf(join(workspace, SERVICES_PROGRAM), join(tmp, AGENT_OBJECT))
    if (!built.ok) {
      const first = built.diagnostics.find((d) => d.severity === 'error')
      throw new UserError(
        `${SERVICES_PROGRAM} does not build: ${first ? `line ${first.line}: ${first.message}` : (built.problem ?? 'clang failed')}`,
        {hint: 'ebpfcni check 6 --step socket-lb says what to fix first, or export with --no-agents'},
      )
    }
    let agent: Buffer
    try {
      agent = readFileSync(join(workspace, AGENT_FILE))
    } catch {
      throw new UserError(`no ${AGENT_FILE} in ${workspace}`, {hint: 'ebpfcni lab 6 puts the starter there'})
    }
    return {[AGENT_OBJECT]: readFileSync(built.object), [AGENT_FILE]: agent}
  } finally {
    rmSync(tmp, {recursive: true, force: true})
  }
}

export const servicesAgent: LabAgent = {
  summary:
    "Services without kube-proxy: your connect4 (and step 3's hooks) on the node's cgroup, your agent.mjs keeping its maps in line with the cluster's Services and EndpointSlices",
  // Step 2 is where agent.mjs keeps backends current: before it, a deleted pod would stay a backend.
  step: 'backends',
  files: agentFiles,
  rbac: [
    {apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch']},
    {apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch']},
  ],
  run: runNodeAgent,
}
