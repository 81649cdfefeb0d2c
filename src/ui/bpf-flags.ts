import {Flags} from '#oclif'
import {BPF_PIN_ROOT} from '../host/paths.js'

// How the bpf commands name things, once: a pinned object is a path, or a name under --pin-dir;
// a pod's host veth (--pod) or a host interface (--dev); a hook (xdp, tc-ingress, tc-egress).

export const pinDirFlag = Flags.string({
  description: 'Where the lab pins programs and maps; a bare NAME means this directory.',
  default: BPF_PIN_ROOT,
})

export const targetFlags = {
  pod: Flags.string({
    description: "A pod's host veth (found by the pod interface's peer index).",
    exactlyOne: ['pod', 'dev'],
  }),
  dev: Flags.string({description: 'A host interface by name.'}),
}

export const hookFlag = Flags.string({
  description:
    'xdp, or a TC clsact direction: on a host veth, tc-ingress sees what the pod sends, tc-egress what it receives.',
  options: ['xdp', 'tc-ingress', 'tc-egress'],
  default: 'xdp',
})
