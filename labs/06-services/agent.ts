import {existsSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {mapDelete, mapLookup, mapUpdate} from '#bpf/map-ops.js'
import {int2ip} from '#net/ipv4.js'
import {CheckFailure} from '#checks/engine.js'
import {errorMessage} from '#host/errors.js'
import {addrKey, u32le} from './services.js'

// Step 2: the agent that keeps a Service's backends current, lab 4's controller pattern (pod
// events in, map writes out). This side is ready-made: it knows which pod holds which slot and
// calls the learner's agent.mjs (added, deleted) with views whose every read and write is the
// kernel's map, at once, while connect4 reads it on each connect().

export const AGENT_FILE = 'agent.mjs'

/** A backend as the learner's agent sees it: address and port (host order, readable). */
export interface AgentBackend {
  ip: string
  port: number
}

interface LearnerAgent {
  added: (svc: {count: number}, slots: SlotView, backend: AgentBackend) => void
  deleted: (svc: {count: number}, slots: SlotView, slot: number) => void
}

interface SlotView {
  get(n: number): AgentBackend | undefined
  set(n: number, b: AgentBackend): void
  delete(n: number): void
}

/** The learner's agent.mjs, imported afresh (an edit is a new module). */
export async function importAgent(workspace: string): Promise<LearnerAgent> {
  const file = join(workspace, AGENT_FILE)
  if (!existsSync(file))
    throw new CheckFailure(
      `no ${AGENT_FILE} in ${workspace}`,
      `ebpfcni lab 6 puts the starter's ${AGENT_FILE} in your workspace (or copy labs/06-services/starter/${AGENT_FILE})`,
    )
  let mod: Partial<LearnerAgent>
  try {
    mod = (await import(`${pathToFileURL(file).href}?v=${statSync(file).mtimeMs}`)) as Partial<LearnerAgent>
  } catch (err) {
    throw new CheckFailure(`${AGENT_FILE} does not load: ${errorMessage(err).split('\n')[0]}`)
  }
  if (typeof mod.added !== 'function' || typeof mod.deleted !== 'function')
    throw new CheckFailure(`${AGENT_FILE} must export the functions added and deleted (keep the starter's names)`)
  return mod as LearnerAgent
}

/** One Service's agent: which pod holds which slot, and the learner's code that keeps the maps so. */
export class ServiceAgent {
  /** Pod name by slot, as the ready-made side tracks it (the learner's code moves the maps). */
  private readonly holders: string[] = []

  constructor(
    private readonly agent: LearnerAgent,
    private readonly maps: {services: number; backends: number},
    private readonly service: {id: number; clusterIP: string; port: number; targetPort: number},
    initial: string[],
  ) {
    this.holders.push(...initial)
  }

  /** What the services map holds for the Service now. */
  count(): number {
    const v = mapLookup(this.maps.services, addrKey(this.service.clusterIP, this.service.port), 8)
    return v ? v.readUInt32LE(4) : 0
  }

  /** The pods holding slots 0, 1, …, as the ready-made side tracks them. */
  holding(): string[] {
    return [...this.holders]
  }

  /** A pod the selector picks appeared (port: the Service's targetPort unless an EndpointSlice resolved another). */
  added(pod: string, ip: string, port = this.service.targetPort): void {
    this.call('added', () => this.agent.added(this.svcView(), this.slotView(), {ip, port}))
    this.holders.push(pod)
  }

  /** A backend pod was deleted: the learner's code is told its slot. Returns the slot. */
  deleted(pod: string): number {
    const slot = this.holders.indexOf(pod)
    if (slot < 0) throw new Error(`pod ${pod} holds no slot`)
    this.call('deleted', () => this.agent.deleted(this.svcView(), this.slotView(), slot))
    // What a correct agent did: the last slot's pod moved into the freed one.
    const last = this.holders.pop()!
    if (last !== pod) this.holders[slot] = last
    return slot
  }

  /** The backends map's slots 0..upTo-1 now. */
  slotList(upTo: number): Array<AgentBackend | undefined> {
    return Array.from({length: upTo}, (_, n) => this.slotView().get(n))
  }

  /** The same, "slot: ip:port", for messages. */
  slots(upTo: number): string {
    return this.slotList(upTo)
      .map((b, n) => `${n}: ${b ? `${b.ip}:${b.port}` : 'none'}`)
      .join(', ')
  }

  private call(name: string, body: () => void): void {
    try {
      body()
    } catch (err) {
      throw new CheckFailure(`${AGENT_FILE}'s ${name}() threw: ${errorMessage(err).split('\n')[0]}`)
    }
  }

  private svcView(): {count: number} {
    const key = addrKey(this.service.clusterIP, this.service.port)
    const {services} = this.maps
    const id = this.service.id
    return {
      get count() {
        const v = mapLookup(services, key, 8)
        return v ? v.readUInt32LE(4) : 0
      },
      set count(n: number) {
        if (!Number.isInteger(n) || n < 0) throw new Error(`count must be a whole number ≥ 0, not ${String(n)}`)
        mapUpdate(services, key, u32le(id, n))
      },
    }
  }

  private slotView(): SlotView {
    const {backends} = this.maps
    const id = this.service.id
    return {
      get(n) {
        const v = mapLookup(backends, u32le(id, n), 8)
        return v ? {ip: int2ip(v.readUInt32BE(0)), port: v.readUInt16BE(4)} : undefined
      },
      set(n, b) {
        if (!b || typeof b.ip !== 'string') throw new Error(`slots.set(${n}, ${String(b)}): not a backend`)
        mapUpdate(backends, u32le(id, n), addrKey(b.ip, b.port))
      },
      delete(n) {
        mapDelete(backends, u32le(id, n))
      },
    }
  }
}
