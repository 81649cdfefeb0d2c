import {join} from 'node:path'
import * as grpc from '@grpc/grpc-js'
import * as protoLoader from '@grpc/proto-loader'
import {packageRoot} from '../../host/paths.js'

// A CRI v1 client over containerd's unix socket, making the calls the kubelet makes for a pod:
// RunPodSandbox, CreateContainer, StartContainer, PodSandboxStatus, ListPodSandbox,
// StopPodSandbox, RemovePodSandbox. Field names are the proto's, in camelCase.

export interface SandboxMetadata {
  name: string
  uid: string
  namespace: string
  attempt: number
}

export interface SandboxConfig {
  metadata: SandboxMetadata
  hostname: string
  logDirectory: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  linux?: {cgroupParent?: string; sysctls?: Record<string, string>}
}

export interface ContainerConfig {
  metadata: {name: string; attempt: number}
  image: {image: string}
  command: string[]
  args?: string[]
  labels?: Record<string, string>
  logPath: string
}

export interface SandboxStatus {
  id: string
  metadata: SandboxMetadata
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY'
  createdAt: string
  network?: {ip: string; additionalIps?: Array<{ip: string}>}
  labels: Record<string, string>
}

export interface SandboxListItem {
  id: string
  metadata: SandboxMetadata
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY'
  createdAt: string
  labels: Record<string, string>
}

/** A failed CRI call: the gRPC status and the runtime's message (which carries the CNI plugin's error). */
export class CriError extends Error {
  constructor(
    readonly rpc: string,
    readonly code: number,
    readonly details: string,
  ) {
    super(`${rpc}: ${details}`)
    this.name = 'CriError'
  }
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: unknown) => void,
) => void

let definition: grpc.GrpcObject | undefined
function runtimeService(): grpc.ServiceClientConstructor {
  definition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(join(packageRoot(), 'proto/cri-runtime-v1.proto'), {
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  )
  return ((definition.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject).RuntimeService as grpc.ServiceClientConstructor
}

export class CriClient {
  private readonly client: grpc.Client

  constructor(readonly address: string) {
    const Service = runtimeService()
    this.client = new Service(`unix://${address}`, grpc.credentials.createInsecure())
  }

  private call<T>(rpc: string, req: unknown, timeoutMs: number): Promise<T> {
    const fn = (this.client as unknown as Record<string, Unary>)[rpc].bind(this.client)
    return new Promise<T>((resolve, reject) => {
      fn(req, new grpc.Metadata(), {deadline: Date.now() + timeoutMs}, (err, res) => {
        if (err) reject(new CriError(rpc, err.code, err.details || err.message))
        else resolve(res as T)
      })
    })
  }

  version(timeoutMs = 5000): Promise<{runtimeName: string; runtimeVersion: string; runtimeApiVersion: string}> {
    return this.call('Version', {version: 'v1'}, timeoutMs)
  }

  async runPodSandbox(config: SandboxConfig, timeoutMs: number): Promise<string> {
    return (await this.call<{podSandboxId: string}>('RunPodSandbox', {config, runtimeHandler: ''}, timeoutMs))
      .podSandboxId
  }

  async createContainer(
    podSandboxId: string,
    config: ContainerConfig,
    sandboxConfig: SandboxConfig,
    timeoutMs: number,
  ): Promise<string> {
    return (await this.call<{containerId: string}>('CreateContainer', {podSandboxId, config, sandboxConfig}, timeoutMs))
      .containerId
  }

  async startContainer(containerId: string, timeoutMs: number): Promise<void> {
    await this.call('StartContainer', {containerId}, timeoutMs)
  }

  /** The sandbox's status and, verbose, containerd's info (its runtime spec holds the netns path). */
  async podSandboxStatus(
    podSandboxId: string,
    timeoutMs = 10_000,
  ): Promise<{status: SandboxStatus; info: Record<string, string>}> {
    return this.call('PodSandboxStatus', {podSandboxId, verbose: true}, timeoutMs)
  }

  async listPodSandbox(labelSelector: Record<string, string> = {}, timeoutMs = 10_000): Promise<SandboxListItem[]> {
    return (await this.call<{items: SandboxListItem[]}>('ListPodSandbox', {filter: {labelSelector}}, timeoutMs)).items
  }

  async stopPodSandbox(podSandboxId: string, timeoutMs: number): Promise<void> {
    await this.call('StopPodSandbox', {podSandboxId}, timeoutMs)
  }

  async removePodSandbox(podSandboxId: string, timeoutMs: number): Promise<void> {
    await this.call('RemovePodSandbox', {podSandboxId}, timeoutMs)
  }

  /** The runtime's conditions (RuntimeReady, NetworkReady), as the kubelet polls them for the node's Ready. */
  async status(timeoutMs = 5000): Promise<Array<{type: string; status: boolean; reason: string; message: string}>> {
    return (
      (
        await this.call<{
          status?: {conditions: Array<{type: string; status: boolean; reason: string; message: string}>}
        }>('Status', {verbose: false}, timeoutMs)
      ).status?.conditions ?? []
    )
  }

  close(): void {
    this.client.close()
  }
}
