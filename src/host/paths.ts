import {homedir} from 'node:os'
import {createHash} from 'node:crypto'
import {basename, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

// Every host path the tool touches, in one place. Tests point the state dir elsewhere
// with EBPFCNI_STATE_DIR; the install targets are the real ones a runtime reads.
export const stateDir = (): string => process.env.EBPFCNI_STATE_DIR ?? '/var/lib/ebpfcni'
export const ledgerPath = (): string => join(stateDir(), 'ledger.json')
/** Before progress belonged to a workspace: one file for the host (read once, for the default workspace). */
export const legacyProgressPath = (): string => join(stateDir(), 'progress.json')
export const progressDir = (): string => join(stateDir(), 'progress')
/** Progress belongs to the learner's workspace: a fresh workspace starts at step 1. */
export const progressPath = (workspace: string): string =>
  join(
    progressDir(),
    `${basename(workspace) || 'root'}-${createHash('sha256').update(workspace).digest('hex').slice(0, 10)}.json`,
  )
export const backupsDir = (): string => join(stateDir(), 'backups')
// Built once by scripts/setup.sh; not per state dir.
export const busyboxRootfs = (): string => process.env.EBPFCNI_ROOTFS ?? '/var/lib/ebpfcni/rootfs'
export const podmanContainersConf = (): string => process.env.EBPFCNI_CONTAINERS_CONF ?? '/etc/ebpfcni/containers.conf'

export const CNI_BIN_DIR = '/opt/cni/bin'
export const CNI_CONF_DIR = '/etc/cni/net.d'
export const DEBIAN_CNI_DIR = '/usr/lib/cni'
export const BPF_FS = '/sys/fs/bpf'
export const BPF_PIN_ROOT = '/sys/fs/bpf/ebpfcni'
export const TRACEFS = '/sys/kernel/tracing'

/** ~/ebpfcni-lab: the workspace the texts name. */
export const defaultWorkspaceDir = (): string => join(homedir(), 'ebpfcni-lab')

export const workspaceDir = (flag?: string): string =>
  resolve(flag ?? process.env.EBPFCNI_WORKSPACE ?? defaultWorkspaceDir())

/** The package root (where labs/, bpf/ and dist/ live), from this compiled file's location. */
export const packageRoot = (): string => resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const labsRoot = (): string => join(packageRoot(), 'labs')
/** Compiled helper scripts run as separate processes (e.g. the httpbin workload). */
export const distFile = (rel: string): string => join(packageRoot(), 'dist', rel)
