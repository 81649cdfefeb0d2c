import {UserError} from '../host/errors.js'
import {apiServerUrl, inClusterApi, type ApiServer} from './kubernetes-api.js'
import {withNamespaceLabel} from './kubernetes-policies.js'
import {CriPodSource, LedgerPodSource, type PodSource} from './pods.js'
import {PolicyService} from './service.js'

// Where `policy watch`'s controller learns pods and policies from: ebpfcni's pod records or the
// CRI runtime's sandboxes; the files and rules given to ebpfcni, or also the Kubernetes API.

export interface ControllerSources {
  /** Lab 4's pin folder. */
  pinDir: string
  pods: 'records' | 'cri'
  /** The CRI runtime's socket, with pods 'cri' (default: ebpfcni's own containerd). */
  criSocket?: string
  policies: 'files' | 'kubernetes'
  /** The Kubernetes API's URL as given, with policies 'kubernetes' (default: in-cluster). */
  apiServer?: string
  /** Seconds between two reads of the Kubernetes API. */
  resync: number
}

/**
 * The policy service over those sources, checked now: the CRI runtime answers, the API's URL is
 * one, lab 4's maps are pinned. `api` is set when policies also come from the Kubernetes API.
 */
export async function controllerService(sources: ControllerSources): Promise<{svc: PolicyService; api?: ApiServer}> {
  let pods: PodSource | undefined
  if (sources.pods === 'cri') {
    const cri = sources.criSocket ? new CriPodSource(sources.criSocket) : new CriPodSource()
    pods = cri
    await cri.refresh().catch((err: Error) => {
      throw new UserError(`cannot list pods from the CRI runtime: ${err.message}`, {
        hint: sources.criSocket
          ? `is the runtime listening on ${sources.criSocket}? (crictl --runtime-endpoint unix://${sources.criSocket} pods)`
          : "start pods with ebpfcni pod add NAME --runtime cri first (that starts ebpfcni's containerd)",
      })
    })
  }
  let api: ApiServer | undefined
  if (sources.policies === 'kubernetes') {
    api = sources.apiServer ? {url: apiServerUrl(sources.apiServer)} : inClusterApi()
    pods = withNamespaceLabel(pods ?? new LedgerPodSource())
  }
  const svc = new PolicyService({pinDir: sources.pinDir, pods})
  svc.mode() // a clear error now if lab 4's maps are not pinned
  return {svc, api}
}
