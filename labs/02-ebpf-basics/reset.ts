import {existsSync, rmSync} from 'node:fs'
import type {Discoverer} from '#reset/actions.js'
import {BPF_PIN_ROOT} from '#host/paths.js'

/** Whatever is pinned under the labs' path, however it got there (ebpfcni or bpftool); labs that build on lab 2 share it. */
export const bpfPinsDiscoverer: Discoverer = async () => {
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
