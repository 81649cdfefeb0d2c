import {existsSync, rmSync} from 'node:fs'
import type {Discoverer} from '../../host/reset.js'
import {BPF_PIN_ROOT} from '../../host/paths.js'

/** Lab 2 on: whatever is pinned under the lab's path, however it got there (ebpfcni or bpftool). */
export const bpfPinsDiscoverer: Discoverer = async (lab) => {
  if (lab !== undefined && lab < 2) return []
  if (!existsSync(BPF_PIN_ROOT)) return []
  return [
    {
      description: `remove the lab's pins under ${BPF_PIN_ROOT}`,
      kind: 'pin',
      entryIds: [],
      perform: async () => rmSync(BPF_PIN_ROOT, {recursive: true, force: true}),
    },
  ]
}
