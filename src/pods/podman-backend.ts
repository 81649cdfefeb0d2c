import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {run, ok, describeRun} from '../host/exec.js'

// Can this machine's podman run a CNI plugin at all? Podman 4 (Debian 12) has the CNI backend;
// podman 5 as Debian 13 builds it is netavark-only and refuses network_backend = "cni" outright:
//   Error: cni support is not enabled in this build, only netavark. Got unsupported network backend "cni"
// That is no fault of the attendee's plugin, and no package of that release fixes it: the
// real-runtime proof then is containerd's CRI (runtime.cri, --runtime cri), which works on both.

/** What a probe of podman saw. */
export interface PodmanProbe {
  installed: boolean
  /** "4.3.1", from `podman --version`. */
  version?: string
  /** Podman answered with network_backend = "cni" set: it can call a CNI plugin. */
  cni: boolean
  /** When it did not: podman's own words (its last error line), or what went wrong. */
  refusal?: string
}

/** The decision the podman runtime, runtime.podman and doctor share. */
export type PodmanVerdict =
  | {use: 'podman'; version: string}
  | {use: 'none'; why: 'not-installed'; message: string; fix: string}
  | {use: 'none'; why: 'netavark-only'; version: string; message: string; fix: string}
  | {use: 'none'; why: 'unusable'; version?: string; message: string; fix: string}

/** Podman's refusal of the CNI backend, as podman 5 built without CNI words it. */
const NO_CNI = /cni support is not enabled in this build|unsupported network backend "cni"/i

/** The real-runtime proof that works on Debian 12 and 13 alike. */
export const CRI_INSTEAD =
  "prove your plugin under a real runtime through containerd's CRI, the kubelet's path, instead: ebpfcni check 1 --runtime cri (the runtime.cri check)"

/** Decide from a probe (pure: the unit tests feed it fake probes). */
export function podmanVerdict(probe: PodmanProbe): PodmanVerdict {
  if (!probe.installed)
    return {
      use: 'none',
      why: 'not-installed',
      message: 'podman is not installed',
      fix: 'apt-get install -y podman runc (or bash scripts/setup.sh)',
    }
  const version = probe.version ?? 'unknown'
  if (probe.cni) return {use: 'podman', version}
  if (NO_CNI.test(probe.refusal ?? ''))
    return {
      use: 'none',
      why: 'netavark-only',
      version,
      message: `podman ${version} is built netavark-only: it refuses the CNI backend ("cni support is not enabled in this build") and cannot run a CNI plugin (Debian 13's podman 5 is so; Debian 12's 4.3 has CNI)`,
      fix: CRI_INSTEAD,
    }
  return {
    use: 'none',
    why: 'unusable',
    version: probe.version,
    message: `podman ${version} did not start with the CNI backend: ${probe.refusal ?? 'no reason given'}`,
    fix: 'podman info shows what podman itself needs; or ' + CRI_INSTEAD,
  }
}

/** What runtime.podman does with a verdict: run podman, or say plainly why not. */
export type PodmanCheckPlan = {run: true} | {run: false; skip: string} | {run: false; fail: string; fix: string}

/**
 * runtime.podman's decision. A podman that cannot call CNI plugins is skipped, naming its version
 * and what proves the plugin instead (runtime.cri, when containerd is there); a failure only when
 * the attendee asked for podman (--runtime podman), with the fix. Any other podman problem runs
 * podman, so its own error is shown.
 */
export function podmanCheckPlan(
  verdict: PodmanVerdict,
  opts: {asked: boolean; containerdInstalled: boolean},
): PodmanCheckPlan {
  if (verdict.use === 'podman' || verdict.why === 'unusable') return {run: true}
  if (opts.asked)
    return {run: false, fail: verdict.message, fix: verdict.why === 'not-installed' ? verdict.fix : CRI_INSTEAD}
  if (verdict.why === 'not-installed')
    return {run: false, skip: `${verdict.message} (pass --runtime podman to require it)`}
  return {
    run: false,
    skip: opts.containerdInstalled
      ? `${verdict.message}; runtime.cri proves your plugin under a real runtime instead (containerd's CRI, the kubelet's path)`
      : `${verdict.message}; containerd is not installed either, so no real runtime proves your plugin: apt-get install -y containerd, then runtime.cri does`,
  }
}

/** `podman --version` → "4.3.1". */
export function parsePodmanVersion(out: string): string | undefined {
  return /podman version (\S+)/i.exec(out)?.[1]
}

/**
 * Ask podman itself, for real: its version, then `podman info` with the CNI backend configured, in
 * a throwaway store (vfs, a temporary root) so the probe mounts nothing and leaves nothing behind.
 */
export async function probePodman(timeoutMs = 15_000): Promise<PodmanProbe> {
  const v = await run('podman', ['--version'], {timeoutMs: 5000})
  if (v.startError) return {installed: false, cni: false}
  const version = parsePodmanVersion(v.stdout)
  if (!ok(v)) return {installed: true, version, cni: false, refusal: describeRun(v)}
  const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-podman-probe-'))
  try {
    const conf = join(dir, 'containers.conf')
    writeFileSync(conf, '[network]\nnetwork_backend = "cni"\n')
    const info = await run(
      'podman',
      [
        '--root',
        join(dir, 'root'),
        '--runroot',
        join(dir, 'run'),
        '--storage-driver',
        'vfs',
        'info',
        '--format',
        '{{.Host.NetworkBackend}}',
      ],
      {env: {CONTAINERS_CONF: conf}, timeoutMs},
    )
    if (ok(info) && info.stdout.trim() === 'cni') return {installed: true, version, cni: true}
    const said = info.stderr
      .trim()
      .split('\n')
      .at(-1)
      ?.replace(/^Error:\s*/, '')
    const refusal = ok(info)
      ? `its network backend is ${info.stdout.trim() || 'unknown'}, not cni`
      : said || describeRun(info)
    return {installed: true, version, cni: false, refusal}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** The verdict for this machine, probed once per process (doctor, a check run, a pod command). */
let cached: Promise<PodmanVerdict> | undefined
export function podmanOnThisMachine(): Promise<PodmanVerdict> {
  cached ??= probePodman().then(podmanVerdict)
  return cached
}
