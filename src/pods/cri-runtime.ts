import {randomUUID} from 'node:crypto'
import {existsSync, mkdirSync, rmSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {Ledger} from '../host/ledger.js'
import {nsExecArgs} from '../net/probes.js'
import {podMac} from '../net/ip.js'
import {PodError} from './errors.js'
import {EnvironmentError} from '../host/errors.js'
import {newPodRecord, type PodRecord, type PodRuntime, type PodSpec} from './types.js'
import {containerdDir, ensureContainerd, runningContainerd} from './cri/daemon.js'
import {CriClient, CriError, type SandboxConfig} from './cri/client.js'
import {WORKLOAD_IMAGE} from './cri/images.js'

// The kubelet's path on one node: ebpfcni plays the kubelet and talks CRI to its own containerd,
// whose CRI plugin calls libcni, which runs the plugin in the CNI bin dir with the first config in
// the CNI conf dir. Here the conf dir is the one holding the pod's config file.

/** A sandbox gets what a kubelet would give it: minutes (containerd runs CNI ADD inside). */
const SANDBOX_TIMEOUT_MS = 120_000
const CALL_TIMEOUT_MS = 30_000
export const POD_NAMESPACE = 'default'

/** The netns path in containerd's verbose sandbox info (its runtime spec's network namespace). */
export function netnsFromInfo(info: Record<string, string>): string | undefined {
  try {
    const parsed = JSON.parse(info.info ?? '{}') as {
      runtimeSpec?: {linux?: {namespaces?: Array<{type: string; path?: string}>}}
    }
    return parsed.runtimeSpec?.linux?.namespaces?.find((n) => n.type === 'network')?.path
  } catch {
    return undefined
  }
}

/** What the kubelet would show in `kubectl describe pod` for a sandbox that failed. */
export function sandboxFailure(pod: string, err: unknown): PodError {
  const details = err instanceof CriError ? err.details : (err as Error).message
  return new PodError(`CRI RunPodSandbox for pod ${pod}`, `Failed to create pod sandbox: ${details}`)
}

/**
 * Wait, as the kubelet does before it starts pods, until the runtime reports NetworkReady: the CRI
 * plugin has loaded a CNI config (it watches the conf dir, so a config written a moment ago may not
 * be loaded yet). Otherwise fail with what the node would show as NotReady.
 */
async function waitForNetworkReady(client: CriClient, confDir: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const net = (await client.status()).find((c) => c.type === 'NetworkReady')
    if (net?.status) return
    if (Date.now() > deadline) {
      throw new PodError(
        "the CRI runtime's network",
        `NetworkReady=false reason:${net?.reason ?? '?'} message:${net?.message ?? '?'} (containerd found no usable CNI config in ${confDir}; the kubelet would keep the node NotReady)`,
      )
    }
    await new Promise((r) => setTimeout(r, 100))
  }
}

export class CriRuntime implements PodRuntime {
  readonly name = 'cri' as const
  constructor(private readonly ledger: Ledger = new Ledger()) {}

  async add(spec: PodSpec): Promise<PodRecord> {
    const cni = {binDir: spec.cniPath[0], confDir: dirname(spec.configFile)}
    if (!existsSync(join(cni.binDir, 'loopback'))) {
      throw new EnvironmentError(
        `there is no loopback plugin in ${cni.binDir}: containerd's CRI plugin runs it for every pod, before your network's plugin`,
        `ln -s /usr/lib/cni/loopback ${cni.binDir}/loopback (scripts/setup.sh does it for /opt/cni/bin, as a Kubernetes node has it)`,
      )
    }
    const daemon = await ensureContainerd(this.ledger, cni, spec.lab)
    const uid = randomUUID()
    const logDirectory = join(containerdDir(), 'pods', `${POD_NAMESPACE}_${spec.name}_${uid}`)
    const record = newPodRecord(spec, {runtime: 'cri', containerId: '', netnsPath: '', ifname: 'eth0', criUid: uid})
    // Write-ahead: the pod is in the ledger before the sandbox exists (found by its uid if we die here).
    const entry = this.ledger.record('pod', spec.name, {lab: spec.lab, details: {...record}})
    const client = new CriClient(daemon.address)
    const sandbox: SandboxConfig = {
      metadata: {name: spec.name, uid, namespace: POD_NAMESPACE, attempt: 0},
      hostname: spec.name,
      logDirectory,
      labels: {
        ...spec.labels,
        'io.kubernetes.pod.name': spec.name,
        'io.kubernetes.pod.namespace': POD_NAMESPACE,
        'ebpfcni.pod': spec.name,
      },
      // busybox ping as a non-root user needs it, as podman pods have it.
      linux: {sysctls: {'net.ipv4.ping_group_range': '0 2147483647'}},
    }
    try {
      await waitForNetworkReady(client, cni.confDir)
      await this.collectGarbage(client)
      mkdirSync(logDirectory, {recursive: true})
      let sandboxId: string
      try {
        sandboxId = await client.runPodSandbox(sandbox, SANDBOX_TIMEOUT_MS)
      } catch (err) {
        throw sandboxFailure(spec.name, err)
      }
      record.containerId = sandboxId
      this.ledger.update(entry.id, {...record})
      const cmd =
        spec.workload === 'httpbin'
          ? ['/bin/busybox', 'httpd', '-f', '-p', '80', '-h', '/var/www']
          : ['/bin/busybox', 'sleep', '2147483647']
      const container = await client.createContainer(
        sandboxId,
        {
          metadata: {name: spec.workload, attempt: 0},
          image: {image: WORKLOAD_IMAGE},
          command: cmd,
          labels: spec.labels,
          logPath: `${spec.workload}/0.log`,
        },
        sandbox,
        CALL_TIMEOUT_MS,
      )
      await client.startContainer(container, CALL_TIMEOUT_MS)
      const {status, info} = await client.podSandboxStatus(sandboxId)
      record.ip = status.network?.ip || undefined
      record.netnsPath = netnsFromInfo(info) ?? ''
      // CRI reports the address only: the MAC is read from the pod's own netns, as `ip` would.
      record.mac = record.netnsPath ? await podMac(record.netnsPath, record.ifname) : undefined
      if (record.ip)
        record.result = {
          cniVersion: '1.0.0',
          ips: [{address: `${record.ip}/32`}],
          interfaces: [{name: 'eth0', mac: record.mac, sandbox: record.netnsPath}],
        }
      this.ledger.update(entry.id, {...record})
      return record
    } catch (err) {
      await this.removeSandbox(client, record).catch(() => undefined)
      rmSync(logDirectory, {recursive: true, force: true})
      this.ledger.forget([entry.id])
      throw err instanceof PodError
        ? err
        : new PodError(`CRI pod ${spec.name}`, err instanceof CriError ? err.message : (err as Error).message)
    } finally {
      client.close()
    }
  }

  async remove(pod: PodRecord): Promise<void> {
    // No daemon (killed, or stopped by reset): its sandboxes died with it; reset removes the state.
    const address = await runningContainerd(this.ledger)
    if (!address) {
      this.ledger.forgetWhere((e) => e.kind === 'pod' && e.name === pod.name)
      return
    }
    const client = new CriClient(address)
    try {
      await this.removeSandbox(client, pod)
    } finally {
      client.close()
      this.ledger.forgetWhere((e) => e.kind === 'pod' && e.name === pod.name)
    }
  }

  /**
   * As the kubelet's garbage collector: sandboxes of ours that are not ready and no pod record
   * names (a sandbox whose ADD failed, and whose DEL failed too, keeps its netns) are stopped and
   * removed once the plugin can DEL them.
   */
  private async collectGarbage(client: CriClient): Promise<void> {
    const known = new Set(
      this.ledger.find((e) => e.kind === 'pod').map((e) => (e.details as {containerId?: string}).containerId),
    )
    for (const s of await client.listPodSandbox().catch(() => [])) {
      if (s.state === 'SANDBOX_READY' || known.has(s.id) || !s.labels['ebpfcni.pod']) continue
      await client
        .stopPodSandbox(s.id, CALL_TIMEOUT_MS)
        .then(() => client.removePodSandbox(s.id, CALL_TIMEOUT_MS))
        .catch(() => undefined)
    }
  }

  /** StopPodSandbox (containerd calls CNI DEL), then RemovePodSandbox, as the kubelet does. */
  private async removeSandbox(client: CriClient, pod: PodRecord): Promise<void> {
    // A sandbox whose id we never learnt (killed mid-RunPodSandbox) is found by its uid label.
    const ids = pod.containerId
      ? [pod.containerId]
      : (await client.listPodSandbox({'ebpfcni.pod': pod.name}))
          .filter((s) => s.metadata.uid === pod.criUid)
          .map((s) => s.id)
    for (const id of ids) {
      await client.stopPodSandbox(id, SANDBOX_TIMEOUT_MS)
      await client.removePodSandbox(id, CALL_TIMEOUT_MS)
    }
  }

  execArgs(pod: PodRecord, cmd: string[]): [string, string[]] {
    return nsExecArgs(pod.netnsPath, cmd)
  }
}
