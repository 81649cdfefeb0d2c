import {existsSync, mkdirSync, readFileSync, writeFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {Ledger} from '../../host/ledger.js'
import {processOwner} from '../../host/owners.js'
import {stateDir} from '../../host/paths.js'
import {killPid, processAlive, processTable, spawnDetached, stopRecordedProcess} from '../../host/processes.js'
import {EnvironmentError} from '../../host/errors.js'
import {run} from '../../host/exec.js'
import {cachedImageArchive, importImages, SANDBOX_IMAGE} from './images.js'
import {CriClient} from './client.js'

// ebpfcni's own containerd: config, root, state and socket under <state>/containerd, never the
// system's /run/containerd. Started on demand, recorded in the ledger (reset stops it), and
// restarted when the CNI directories it should read change (tests use private ones).

export const CONTAINERD_OWNER = processOwner('cri-containerd')
export const SNAPSHOTTER = 'overlayfs'

export interface CniDirs {
  binDir: string
  confDir: string
}

export const containerdDir = (): string => join(stateDir(), 'containerd')
export const containerdSocket = (): string => join(containerdDir(), 'containerd.sock')

/** The daemon's config: the CRI plugin with runc v2 on cgroupfs, the local sandbox image, and the labs' CNI dirs. */
export function containerdConfig(dir: string, cni: CniDirs): string {
  return `# Written by ebpfcni for its private containerd (the cri pod runtime).
version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "${dir}/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "${SANDBOX_IMAGE}"
    netns_mounts_under_state_dir = true
    # A negative oom_score_adj (the sandbox asks for -998) needs CAP_SYS_RESOURCE, which these VMs lack.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "${SNAPSHOTTER}"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "${cni.binDir}"
      conf_dir = "${cni.confDir}"
      max_conf_num = 1
`
}

export interface DaemonInfo {
  pid: number
  address: string
  /** Milliseconds from spawn to the first answered Version call (only when this call started it). */
  startedInMs?: number
}

/**
 * The running daemon for these CNI dirs, started (and its images imported) when there is none.
 * A daemon left by a killed run is reused if it answers, replaced if it does not.
 */
export async function ensureContainerd(ledger: Ledger, cni: CniDirs, lab?: number): Promise<DaemonInfo> {
  const dir = containerdDir()
  const config = containerdConfig(dir, cni)
  const configFile = join(dir, 'config.toml')
  const running = ledger.find((e) => e.kind === 'process' && e.owner === CONTAINERD_OWNER)
  for (const e of running) {
    const alive = processAlive(Number(e.details.pid), e.details.startTime as number | undefined)
    const sameConfig = existsSync(configFile) && readFileSync(configFile, 'utf8') === config
    if (alive && sameConfig && (await answers(containerdSocket())))
      return {pid: Number(e.details.pid), address: containerdSocket()}
    await stopRecordedProcess(e.details)
    ledger.forget([e.id])
  }
  const which = await run('containerd', ['--version'], {timeoutMs: 5000})
  if (which.startError)
    throw new EnvironmentError(
      'containerd is not installed (the cri runtime starts its own)',
      'apt-get install -y containerd (or bash scripts/setup.sh)',
    )
  mkdirSync(dir, {recursive: true})
  writeFileSync(configFile, config)
  // A socket left by a killed daemon would make the new one fail to listen.
  rmSync(containerdSocket(), {force: true})
  rmSync(`${containerdSocket()}.ttrpc`, {force: true})
  const entry = ledger.record('process', 'containerd (cri runtime)', {
    lab,
    owner: CONTAINERD_OWNER,
    details: {log: join(dir, 'containerd.log'), dir},
  })
  const t0 = performance.now()
  const {pid, startTime} = spawnDetached('containerd', ['--config', configFile], join(dir, 'containerd.log'), {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  })
  ledger.update(entry.id, {pid, startTime})
  const deadline = Date.now() + 30_000
  while (!(await answers(containerdSocket()))) {
    if (!processAlive(pid, startTime) || Date.now() > deadline) {
      await stopRecordedProcess({pid, startTime})
      ledger.forget([entry.id])
      const log = existsSync(join(dir, 'containerd.log'))
        ? readFileSync(join(dir, 'containerd.log'), 'utf8')
            .trim()
            .split('\n')
            .filter((l) => /level=(error|fatal)/.test(l))
            .slice(-2)
            .join(' | ')
        : ''
      throw new EnvironmentError(
        `containerd did not start${log ? `: ${log}` : ''} (log: ${join(dir, 'containerd.log')})`,
        undefined,
        {do: 'diagnose'},
      )
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  const startedInMs = Math.round(performance.now() - t0)
  await importImages(containerdSocket(), await cachedImageArchive(), SNAPSHOTTER)
  return {pid, address: containerdSocket(), startedInMs}
}

/** The daemon's socket when a recorded daemon is alive and answering; undefined otherwise. */
export async function runningContainerd(ledger: Ledger): Promise<string | undefined> {
  const alive = ledger.find(
    (e) =>
      e.kind === 'process' &&
      e.owner === CONTAINERD_OWNER &&
      processAlive(Number(e.details.pid), e.details.startTime as number | undefined),
  )
  return alive.length && (await answers(containerdSocket())) ? containerdSocket() : undefined
}

async function answers(address: string): Promise<boolean> {
  if (!existsSync(address)) return false
  const c = new CriClient(address)
  try {
    await c.version(2000)
    return true
  } catch {
    return false
  } finally {
    c.close()
  }
}

/**
 * Everything the private containerd leaves: a daemon no ledger names, shims and their containers,
 * netns and rootfs mounts under its state, then the directory itself (images, snapshots, logs).
 * Never deletes through a mount: whatever stays mounted keeps the directory.
 */
export async function removeContainerdState(dir = containerdDir()): Promise<void> {
  const table = processTable()
  const mentioning = (needle: string) => table.filter((p) => p.argv.includes(needle))
  for (const d of mentioning(join(dir, 'config.toml'))) await stopRecordedProcess({pid: d.pid}).catch(() => undefined)
  // A shim's containers are its children: they go first, then the shim.
  for (const shim of mentioning(join(dir, 'containerd.sock'))) {
    for (const c of table.filter((p) => p.ppid === shim.pid)) killPid(c.pid)
    killPid(shim.pid)
  }
  await new Promise((r) => setTimeout(r, 100))
  const mounted = () =>
    readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((m): m is string => Boolean(m) && (m === dir || m.startsWith(`${dir}/`)))
  for (const m of mounted().sort((a, b) => b.length - a.length)) await run('umount', [m], {timeoutMs: 10_000})
  const left = mounted()
  if (left.length) throw new Error(`still mounted under ${dir}: ${left.slice(0, 3).join(', ')}; not removing it`)
  rmSync(dir, {recursive: true, force: true})
}
