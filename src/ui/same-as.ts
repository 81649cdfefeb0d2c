import chalk from 'chalk'
import {TRACEFS} from '../host/paths.js'

// The plain commands an `ebpfcni bpf …` or `pod …` command stands for, so attendees leave knowing
// the real tools (the original workshop had them type clang, bpftool, ip and tc). Shown dim on
// stderr: stdout stays the command's own, --json included.

export const plainCommands = {
  build: (clangLine: string) => [clangLine],
  load: (object: string, pinDir: string) => [`bpftool prog loadall ${object} ${pinDir} pinmaps ${pinDir}`],
  attachXdp: (dev: string, pin: string, mode: 'generic' | 'native') => [
    `ip link set dev ${dev} ${mode === 'native' ? 'xdpdrv' : 'xdpgeneric'} pinned ${pin}`,
  ],
  attachTc: (dev: string, pin: string, direction: 'ingress' | 'egress') => [
    `tc qdisc add dev ${dev} clsact`,
    `tc filter add dev ${dev} ${direction} bpf direct-action pinned ${pin}`,
  ],
  // `net attach tcx_*` is in bpftool 7.5 (Debian 13; not Debian 12's 7.1), `prepend` in later ones. It
  // attaches without a link, so nothing owns it: ebpfcni makes a link and pins it, as an agent does.
  attachTcx: (dev: string, pin: string, direction: 'ingress' | 'egress', first = false) => [
    `bpftool net attach tcx_${direction} pinned ${pin} dev ${dev}${first ? ' prepend' : ''}`,
  ],
  /** A pinned link goes when its pin (and every process holding it) does. */
  detachTcx: (linkPins: string[]) => [`rm ${linkPins.join(' ')}`],
  detachXdp: (dev: string) => [`ip link set dev ${dev} xdpgeneric off`],
  detachTc: (dev: string, direction: 'ingress' | 'egress') => [`tc filter del dev ${dev} ${direction}`],
  dumpMap: (pin: string) => [`bpftool map dump pinned ${pin}`],
  listMaps: () => ['bpftool map show'],
  progs: () => ['bpftool net show'],
  trace: () => [`cat ${TRACEFS}/trace_pipe`],
  /** The CNI call a runtime makes: the spec's variables, the config on stdin. */
  cniCall: (
    command: 'ADD' | 'DEL',
    plugin: string,
    config: string,
    containerId: string,
    netns: string,
    cniPath = plugin.replace(/\/[^/]+$/, ''),
  ) => [
    `CNI_COMMAND=${command} CNI_CONTAINERID=${containerId} CNI_NETNS=${netns} CNI_IFNAME=eth0 CNI_PATH=${cniPath} ${plugin} < ${config}`,
  ],
  inPod: (netnsPath: string, command: string[]) => [`nsenter --net=${netnsPath} ${command.join(' ')}`],
}

/** "same as: a && b", dimmed. */
export const sameAsLine = (lines: string[]): string => chalk.dim(`same as: ${lines.join(' && ')}`)
