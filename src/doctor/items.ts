import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {release} from 'node:os'
import {run, ok, describeRun} from '../host/exec.js'
import {
  BPF_FS,
  TRACEFS,
  CNI_BIN_DIR,
  CNI_CONF_DIR,
  DEBIAN_CNI_DIR,
  busyboxRootfs,
  podmanContainersConf,
} from '../host/paths.js'
import {errorMessage} from '../host/errors.js'
import {libbpfVersion} from '../bpf/ffi.js'
import {clangTargetsBpf} from '../bpf/clang.js'
import {describeMissing, FORWARDING_HELPERS, probeForwardingHelpers} from '../bpf/helper-probe.js'
import {podmanOnThisMachine} from '../pods/podman-backend.js'
import {probeTcx} from '../bpf/tcx.js'
import {kernelAtLeast, mountedAt, netkitDevices, rootWithCapabilities, tool, writable, type Probe} from './probes.js'

// What the labs need of the machine, item by item: how each is probed (probes.ts), the fix to
// print, and the repair --fix may try (doctor.ts runs them).

/** One preflight item: what it probes, the exact fix, and what --fix can repair by itself. */
export interface DoctorItem {
  id: string
  title: string
  /** Needed only for an optional path (a runtime, a real Prometheus): failing, it warns. */
  optional?: boolean
  /** The exact command or step that fixes it. */
  hint: string
  probe: Probe
  repair?: () => Promise<void>
}

const apt = (pkg: string): string => `apt-get install -y ${pkg}   (or: bash scripts/setup.sh)`

/** Everything doctor checks, in the order it prints them. */
export function doctorItems(): DoctorItem[] {
  return [
    {
      id: 'root',
      title: 'running as root with BPF and network capabilities',
      hint: 'run as root: sudo ebpfcni …',
      probe: rootWithCapabilities,
    },
    {
      id: 'kernel',
      title: 'kernel >= 5.15',
      hint: 'use a VM with a newer kernel (the Vagrantfile uses Debian 12)',
      probe: async () => ({ok: kernelAtLeast(release(), 5, 15), detail: `kernel ${release()}`}),
    },
    {
      id: 'btf',
      title: 'kernel BTF (/sys/kernel/btf/vmlinux)',
      hint: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 12 kernels are)',
      probe: async () => ({
        ok: existsSync('/sys/kernel/btf/vmlinux'),
        detail: existsSync('/sys/kernel/btf/vmlinux') ? 'present' : 'missing',
      }),
    },
    {
      id: 'bpffs',
      title: `bpffs mounted at ${BPF_FS}`,
      hint: `mount -t bpf bpf ${BPF_FS}`,
      probe: mountedAt(BPF_FS, 'bpf'),
      repair: async () => {
        mkdirSync(BPF_FS, {recursive: true})
        const r = await run('mount', ['-t', 'bpf', 'bpf', BPF_FS])
        if (!ok(r)) throw new Error(describeRun(r))
      },
    },
    {
      id: 'tracefs',
      title: `tracefs mounted at ${TRACEFS}`,
      hint: `mount -t tracefs tracefs ${TRACEFS}`,
      probe: mountedAt(TRACEFS, 'tracefs'),
      repair: async () => {
        const r = await run('mount', ['-t', 'tracefs', 'tracefs', TRACEFS])
        if (!ok(r)) throw new Error(describeRun(r))
      },
    },
    {
      id: 'clang',
      title: 'clang compiles BPF (-target bpf) with libbpf headers',
      hint: apt('clang llvm libbpf-dev'),
      probe: async () => {
        const r = await run('clang', ['--version'], {timeoutMs: 5000})
        if (r.startError) return {ok: false, detail: 'clang not found'}
        if (!existsSync('/usr/include/bpf/bpf_helpers.h'))
          return {ok: false, detail: 'libbpf headers missing (/usr/include/bpf/bpf_helpers.h)'}
        return clangTargetsBpf()
      },
    },
    {
      id: 'libbpf',
      title: 'libbpf.so.1 loadable (koffi)',
      hint: apt('libbpf1'),
      probe: async () => {
        try {
          return {ok: true, detail: `libbpf ${libbpfVersion()}`}
        } catch (err) {
          return {ok: false, detail: errorMessage(err).split('\n')[0]}
        }
      },
    },
    {id: 'bpftool', title: 'bpftool', hint: apt('bpftool'), probe: () => tool('bpftool', ['version'])},
    {
      id: 'jq',
      title: 'jq (the lab 1 plugin uses it)',
      hint: apt('jq'),
      probe: () => tool('jq', ['--version']),
    },
    {
      id: 'iproute2',
      title: 'ip (iproute2) with JSON output',
      hint: apt('iproute2'),
      probe: () => tool('ip', ['-V']),
    },
    {
      id: 'ping',
      title: 'ping (connectivity checks)',
      hint: apt('iputils-ping'),
      probe: () => tool('ping', ['-V']),
    },
    {
      id: 'busybox',
      title: 'busybox (pod workload clients)',
      hint: apt('busybox-static'),
      probe: () => tool('busybox', ['--help']),
    },
    {
      id: 'cni-dirs',
      title: `${CNI_BIN_DIR} and ${CNI_CONF_DIR} writable`,
      hint: `mkdir -p ${CNI_BIN_DIR} ${CNI_CONF_DIR}`,
      probe: async () => {
        const a = writable(CNI_BIN_DIR)
        const b = writable(CNI_CONF_DIR)
        return {ok: a.ok && b.ok, detail: `${a.detail}; ${b.detail}`}
      },
      repair: async () => {
        mkdirSync(CNI_BIN_DIR, {recursive: true})
        mkdirSync(CNI_CONF_DIR, {recursive: true})
      },
    },
    {
      id: 'ip-forward',
      title: 'net.ipv4.ip_forward = 1',
      hint: 'sysctl -w net.ipv4.ip_forward=1',
      probe: async () => {
        const v = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()
        return {ok: v === '1', detail: `ip_forward=${v}`}
      },
      repair: async () => writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n'),
    },
    {
      id: 'reference-plugins',
      title: `Debian's reference CNI plugins in ${DEBIAN_CNI_DIR} (conform baseline, tests)`,
      optional: true,
      hint: apt('containernetworking-plugins'),
      probe: async () => ({
        ok: existsSync(`${DEBIAN_CNI_DIR}/bridge`) && existsSync(`${DEBIAN_CNI_DIR}/host-local`),
        detail: existsSync(`${DEBIAN_CNI_DIR}/bridge`) ? 'bridge, host-local present' : 'missing',
      }),
    },
    {
      id: 'promtool',
      title: 'promtool (lab 3: metrics.valid)',
      hint: apt('prometheus'),
      probe: () => tool('promtool', ['--version']),
    },
    {
      id: 'prometheus',
      title: 'prometheus server (optional: lab 3 with a real Prometheus)',
      optional: true,
      hint: apt('prometheus'),
      probe: () => tool('prometheus', ['--version']),
    },
    {
      id: 'podman',
      title: 'podman (optional: --runtime podman)',
      optional: true,
      hint: apt('podman'),
      probe: () => tool('podman', ['--version']),
    },
    {
      id: 'podman-cni',
      title: 'podman can run a CNI plugin (optional: --runtime podman, runtime.podman)',
      optional: true,
      hint: "nothing to install (Debian 13's podman 5 has no CNI at all): lab 1 skips runtime.podman, and runtime.cri proves your plugin under a real runtime, containerd's CRI, the kubelet's path: ebpfcni check 1 --runtime cri",
      probe: async () => {
        const v = await podmanOnThisMachine()
        if (v.use === 'podman') return {ok: true, detail: `podman ${v.version} has the CNI backend`}
        return {ok: false, detail: v.message}
      },
    },
    {
      id: 'containerd',
      title: "containerd with the CRI plugin (optional: --runtime cri, the kubelet's path)",
      optional: true,
      hint: apt('containerd'),
      probe: () => tool('containerd', ['--version']),
    },
    {
      id: 'cni-loopback',
      title: `the loopback plugin in ${CNI_BIN_DIR} (containerd's CRI plugin runs it for every pod)`,
      optional: true,
      hint: `ln -s ${DEBIAN_CNI_DIR}/loopback ${CNI_BIN_DIR}/loopback`,
      probe: async () =>
        existsSync(`${CNI_BIN_DIR}/loopback`)
          ? {ok: true, detail: `${CNI_BIN_DIR}/loopback present`}
          : {ok: false, detail: `no ${CNI_BIN_DIR}/loopback`},
    },
    {
      id: 'runc',
      title: 'runc (optional: podman runtime on hybrid cgroups)',
      optional: true,
      hint: apt('runc'),
      probe: () => tool('runc', ['--version']),
    },
    {
      id: 'forwarding-helpers',
      title: 'TC helpers for forwarding in eBPF, without the bridge (optional)',
      optional: true,
      hint: 'these helpers need kernel 5.10 or newer (Debian 12 ships 6.1): use a newer kernel',
      probe: async () => {
        const p = await probeForwardingHelpers()
        if ('error' in p) return {ok: false, detail: `could not probe: ${p.error}`}
        if (p.missing.length)
          return {ok: false, detail: `kernel ${release()} lacks ${p.missing.map(describeMissing).join('; ')}`}
        return {ok: true, detail: FORWARDING_HELPERS.map((h) => h.name).join(', ')}
      },
    },
    {
      id: 'tcx',
      title: 'tcx links (optional: bpf attach --tcx, lab 5 step 5; kernel 6.6+)',
      optional: true,
      hint: 'nothing to fix for the core labs (they attach through clsact); tcx needs kernel 6.6 or newer (Debian 13 has 6.12)',
      probe: async () => probeTcx(),
    },
    {
      id: 'netkit',
      title: 'netkit devices (optional: lab 5 step 5, bench-forwarding; kernel 6.7+)',
      optional: true,
      hint: 'nothing to fix for the core labs (they use veth pairs); netkit needs kernel 6.7 or newer with CONFIG_NETKIT',
      probe: netkitDevices,
    },
    {
      id: 'podman-config',
      title: 'podman CNI config and busybox rootfs (optional)',
      optional: true,
      hint: 'bash scripts/setup.sh',
      probe: async () => {
        const conf = existsSync(podmanContainersConf())
        const rootfs = existsSync(`${busyboxRootfs()}/bin/busybox`)
        return {
          ok: conf && rootfs,
          detail: `${podmanContainersConf()} ${conf ? 'present' : 'missing'}; rootfs ${rootfs ? 'present' : 'missing'}`,
        }
      },
    },
  ]
}
