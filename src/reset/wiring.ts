import {Ledger, type ResourceKind} from '../host/ledger.js'
import {ResetService, type ResetAction, type ResetOutcome, type Discoverer, type Remover} from '../host/reset.js'
import {baseRemovers} from './removers.js'
import {recordOf, runtimeFor} from '../pods/service.js'
import {unusedPodmanNetns} from '../pods/podman-runtime.js'
import {containerdDir, removeContainerdState} from '../pods/cri/daemon.js'
import {existsSync} from 'node:fs'
import {netnsDel} from '../net/ip.js'

// Reset composed from its parts: the host's removers, the pod runtimes' removers, the runtimes'
// discoverers, and the labs' discoverers of what the learner's own code made (handed in by the
// caller: labs/registry.ts labDiscoverers(), so nothing here names a lab).
const extraRemovers: Partial<Record<ResourceKind, Remover>> = {
  // A pod: CNI DEL through its runtime (podman rm for podman), then its netns and workload.
  pod: (e) => ({
    description: `remove pod ${e.name} (${recordOf(e).runtime} runtime: CNI DEL, workload, netns)`,
    kind: 'pod',
    entryIds: [e.id],
    perform: async () => {
      try {
        await runtimeFor(recordOf(e).runtime).remove(recordOf(e))
      } catch (err) {
        // A plugin whose DEL fails must not pin the pod forever: its netns is gone by now.
        process.stderr.write(`warning: ${(err as Error).message}\n`)
      }
    },
  }),
}
/** Netns a killed `podman run` left: no ledger names them, and podman has forgotten them. */
const podmanNetnsDiscoverer: Discoverer = async () =>
  unusedPodmanNetns().map((n) => ({
    description: `delete netns ${n} (podman's, no process in it: left by an interrupted podman run)`,
    kind: 'netns',
    entryIds: [],
    perform: () => netnsDel(n),
  }))

/** The cri runtime's containerd state (after its pods and the daemon are gone): images, snapshots, netns mounts. */
const containerdStateDiscoverer: Discoverer = async (lab) =>
  lab === undefined && existsSync(containerdDir())
    ? [
        {
          description: `remove the cri runtime's containerd state ${containerdDir()} (leftover shims, mounts, images)`,
          kind: 'dir',
          entryIds: [],
          perform: () => removeContainerdState(),
        },
      ]
    : []

const runtimeDiscoverers: Discoverer[] = [podmanNetnsDiscoverer, containerdStateDiscoverer]

export interface ResetFacade {
  plan(lab?: number): Promise<ResetAction[]>
  execute(actions: ResetAction[], onProgress?: (a: ResetAction, error?: string) => void): Promise<ResetOutcome>
}

/** `labDiscoverers`: the discoverers of the labs in scope (labs/registry.ts labDiscoverers). */
export function createResetService(labDiscoverers: Discoverer[], ledger = new Ledger()): ResetFacade {
  const service = new ResetService(ledger, {...baseRemovers, ...extraRemovers}, [
    ...labDiscoverers,
    ...runtimeDiscoverers,
  ])
  return {
    plan: (lab) => service.plan(lab),
    execute: (actions, onProgress) => service.execute(actions, onProgress),
  }
}
