import {closeSync, existsSync, mkdirSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {BpfObject, objGet} from '#bpf/object.js'
import {cgroupAttach, cgroupDetach, type CgroupHook} from '#bpf/attach.js'
import {mapDelete, mapUpdate} from '#bpf/map-ops.js'
import {explainVerifierLog} from '#bpf/verifier.js'
import {errnoName} from '#bpf/ffi.js'
import {errorMessage, UserError} from '#host/errors.js'
import {getJson} from '#policy/kubernetes-api.js'
import type {LabAgentRunOptions} from '#engine/lab-module.js'
import {importAgent, ServiceAgent} from './agent.js'
import {servicePorts, type ServicePort} from './kube-services.js'
import {addrKey, u32le} from './services.js'

// Lab 6 on a Kubernetes node (`ebpfcni agent 6`, the container `export kubernetes` adds to the
// DaemonSet): the learner's built services.bpf.c attached to the node's cgroup (v2) so every pod's
// connect() goes through it, and its maps kept in line with the cluster's Services and their
// EndpointSlices, through the learner's agent.mjs (step 2's added/deleted), as kube-proxy keeps
// its rules. The API is read every resync (a list, as lab 4's controller reads NetworkPolicies).

/** The files the agent runs: the object export builds from services.bpf.c, and step 2's agent.mjs. */
export const AGENT_OBJECT = 'services.bpf.o'
const HOOKS: CgroupHook[] = ['connect4', 'sendmsg4', 'recvmsg4', 'getpeername4']
/** Under the pin dir: the programs this agent attached, so a restarted agent detaches a killed one's. */
const PROGRAM_PINS = 'services-agent'

/** What `ebpfcni agent 6` gives the agent: the options of every lab's agent. */
export type NodeAgentOptions = LabAgentRunOptions

/** The cgroup v2 directory to attach to: DIR itself, or DIR/unified with hybrid cgroups. */
export function cgroupV2Dir(dir: string): string {
  if (existsSync(join(dir, 'cgroup.controllers'))) return dir
  if (existsSync(join(dir, 'unified', 'cgroup.controllers'))) return join(dir, 'unified')
  throw new UserError(`${dir} is not a cgroup v2 directory (no cgroup.controllers in it or in ${dir}/unified)`, {
    hint: "give --cgroup the node's cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified with hybrid cgroups)",
  })
}

interface Held {
  port: ServicePort
  id: number
  agent: ServiceAgent
}

const backendName = (b: {ip: string; port: number}): string => `${b.ip}:${b.port}`

/** Run until `stop`: attach, follow the API, and detach at the end. */
export async function runNodeAgent(o: NodeAgentOptions): Promise<void> {
  const cgroup = cgroupV2Dir(o.cgroup)
  const objectFile = join(o.filesDir, AGENT_OBJECT)
  if (!existsSync(objectFile))
    throw new UserError(`no ${AGENT_OBJECT} in ${o.filesDir}`, {
      hint: 'ebpfcni export kubernetes builds it from your services.bpf.c into the ConfigMap the DaemonSet mounts',
    })
  const learner = await importAgent(o.filesDir).catch((err: unknown) => {
    throw new UserError(errorMessage(err))
  })
  const obj = BpfObject.open(objectFile, {pinRoot: o.pinDir})
  const attached: Array<{hook: CgroupHook; fd: number; pin: string}> = []
  try {
    const loaded = obj.load()
    if (!loaded.ok)
      throw new UserError(
        `the verifier refused ${AGENT_OBJECT} (${errnoName(loaded.errno)}): ${explainVerifierLog(loaded.log).lastLines.slice(-2).join(' | ')}`,
      )
    const maps = new Map(obj.maps().map((m) => [m.name, m.fd]))
    const services = maps.get('services')
    const backends = maps.get('backends')
    if (services === undefined || backends === undefined)
      throw new UserError(`${AGENT_OBJECT} has no maps named services and backends (the starter's)`)
    const pins = join(o.pinDir, PROGRAM_PINS)
    mkdirSync(pins, {recursive: true})
    for (const hook of HOOKS) {
      const prog = obj.programs().find((p) => p.name === hook)
      const pin = join(pins, hook)
      detachPinned(cgroup, hook, pin, o.log)
      if (!prog) continue
      cgroupAttach(cgroup, hook, prog.fd)
      attached.push({hook, fd: prog.fd, pin})
      obj.pinProgram(hook, pin)
    }
    if (!attached.some((a) => a.hook === 'connect4'))
      throw new UserError(`${AGENT_OBJECT} has no program named connect4 (SEC("cgroup/connect4"))`)
    o.log(`attached ${attached.map((a) => a.hook).join(', ')} to the cgroup ${cgroup}`)

    const held = new Map<string, Held>()
    let nextId = 0
    const drop = (h: Held): void => {
      for (const name of h.agent.holding()) h.agent.deleted(name)
      mapDelete(services, addrKey(h.port.clusterIP, h.port.port))
      held.delete(h.port.key)
      o.log(`- ${h.port.key} ${h.port.clusterIP}:${h.port.port}`)
    }
    const reconcile = (wanted: ServicePort[]): void => {
      // One entry per {VIP, port}: the map's key has no protocol (a TCP and a UDP port of the same
      // number on one VIP have the same endpoints in practice; the first is kept).
      const byAddr = new Map<string, ServicePort>()
      for (const p of wanted) if (!byAddr.has(`${p.clusterIP}:${p.port}`)) byAddr.set(`${p.clusterIP}:${p.port}`, p)
      const keep = new Map([...byAddr.values()].map((p) => [p.key, p]))
      for (const h of [...held.values()]) {
        const now = keep.get(h.port.key)
        if (!now || now.clusterIP !== h.port.clusterIP || now.port !== h.port.port) drop(h)
      }
      for (const p of keep.values()) {
        try {
          let h = held.get(p.key)
          if (!h) {
            const id = nextId++
            mapUpdate(services, addrKey(p.clusterIP, p.port), u32le(id, 0))
            const agent = new ServiceAgent(
              learner,
              {services, backends},
              {id, clusterIP: p.clusterIP, port: p.port, targetPort: 0},
              [],
            )
            h = {port: p, id, agent}
            held.set(p.key, h)
            o.log(`+ ${p.key} ${p.clusterIP}:${p.port}/${p.protocol}`)
          }
          h.port = p
          const want = new Set(p.backends.map(backendName))
          for (const name of h.agent.holding())
            if (!want.has(name)) o.log(`  ${p.key} - ${name} (slot ${h.agent.deleted(name)})`)
          const have = new Set(h.agent.holding())
          for (const b of p.backends) {
            if (have.has(backendName(b))) continue
            h.agent.added(backendName(b), b.ip, b.port)
            o.log(`  ${p.key} + ${backendName(b)} (slot ${h.agent.holding().length - 1})`)
          }
        } catch (err) {
          o.log(`${p.key}: ${errorMessage(err)}`)
        }
      }
    }

    let stopped = false
    void o.stop.then(() => (stopped = true))
    let ready = false
    while (!stopped) {
      try {
        const [svcList, sliceList] = await Promise.all([
          getJson(o.api, '/api/v1/services'),
          getJson(o.api, '/apis/discovery.k8s.io/v1/endpointslices'),
        ])
        reconcile(servicePorts(svcList, sliceList))
        if (!ready) o.log(`serving ${held.size} Service port(s); reading the API every ${o.resyncMs / 1000} s`)
        ready = true
      } catch (err) {
        // The maps keep what they hold: a Service does not go down because the API did not answer.
        o.log(`reading the API: ${errorMessage(err)} (the maps keep what they hold)`)
      }
      // A timer that holds the process: the agent runs until stopped, never because nothing is pending.
      await Promise.race([o.stop, new Promise((r) => setTimeout(r, o.resyncMs))])
    }
  } finally {
    for (const a of attached.reverse()) {
      try {
        cgroupDetach(cgroup, a.hook, a.fd)
      } catch {
        // the cgroup went: its programs with it
      }
      if (existsSync(a.pin)) unlinkSync(a.pin)
    }
    obj.close()
  }
  o.log(`detached from ${cgroup}`)
}

/** A program a killed agent left attached (its pin says which): detached, unpinned. */
function detachPinned(cgroup: string, hook: CgroupHook, pin: string, log: (line: string) => void): void {
  if (!existsSync(pin)) return
  let fd: number | undefined
  try {
    fd = objGet(pin)
    cgroupDetach(cgroup, hook, fd)
    log(`detached the ${hook} a previous agent left on ${cgroup}`)
  } catch {
    // not attached any more
  } finally {
    if (fd !== undefined) closeSync(fd)
    unlinkSync(pin)
  }
}
