import type {ResourceKind} from '../host/ledger.js'
import type {Discoverer, Remover} from './actions.js'
import {recordOf, runtimeFor} from '../pods/service.js'
import {unusedPodmanNetns} from '../pods/podman-runtime.js'
import {CONTAINERD_OWNER, containerdDir, removeContainerdState} from '../pods/cri/daemon.js'
import {existsSync} from 'node:fs'
import {netnsDel} from '../net/ip.js'
import {Ledger} from '../host/ledger.js'
import {inUseBy, liveRun} from '../host/live-runs.js'

// What reset knows of the pod runtimes: a pod is removed through its own runtime, and what an
// interrupted podman run or the cri runtime's containerd leaves is found without the ledger.
export const podRemovers: Partial<Record<ResourceKind, Remover>> = {
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

/**
 * The cri runtime's containerd state (after its pods and the daemon are gone): images, snapshots, netns
 * mounts. While a live run that started the daemon holds it, its state stays with it.
 */
const containerdStateDiscoverer: Discoverer = async (lab) => {
  if (lab !== undefined || !existsSync(containerdDir())) return []
  const holder = new Ledger()
    .find((e) => e.kind === 'process' && e.owner === CONTAINERD_OWNER && e.by !== undefined)
    .map((e) => liveRun(e.by!))
    .find(Boolean)
  return [
    {
      description: `remove the cri runtime's containerd state ${containerdDir()} (leftover shims, mounts, images)`,
      kind: 'dir',
      entryIds: [],
      perform: () => removeContainerdState(),
      ...(holder ? {heldBy: inUseBy(holder)} : {}),
    },
  ]
}

export const runtimeDiscoverers: Discoverer[] = [podmanNetnsDiscoverer, containerdStateDiscoverer]
