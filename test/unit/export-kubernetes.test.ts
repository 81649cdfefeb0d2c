import {describe, it, expect, afterAll} from 'vitest'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseAllDocuments} from 'yaml'
import {ConfigMap} from 'kubernetes-models/v1'
import {DaemonSet} from 'kubernetes-models/apps/v1'
import {exportKubernetes, kubernetesObjects} from '../../src/labs/export-kubernetes.js'
import {repoRoot} from '../helpers/env.js'

// `ebpfcni export kubernetes`: the manifests validate against the Kubernetes API's own schemas
// (kubernetes-models, offline), carry the learner's files byte for byte, and install them where a
// runtime and the plugin look. No cluster runs here: what is tested is the manifests, not a rollout.

const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-k8s-'))
afterAll(() => rmSync(tmp, {recursive: true, force: true}))

const workspace = (withObject: boolean) => {
  const ws = join(tmp, withObject ? 'ws-obj' : 'ws')
  mkdirSync(ws, {recursive: true})
  cpSync(join(repoRoot, 'labs/02-ebpf-basics/solution/ebpfcni'), join(ws, 'ebpfcni'))
  cpSync(join(repoRoot, 'labs/01-bridge-cni/solution/10-ebpfcni.conf'), join(ws, '10-ebpfcni.conf'))
  if (withObject) writeFileSync(join(ws, 'ebpfcni.bpf.o'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 255]))
  return ws
}

describe('ebpfcni export kubernetes', () => {
  it('writes a ConfigMap and a DaemonSet that the Kubernetes schemas accept, with the files byte for byte', () => {
    const ws = workspace(true)
    const dir = join(tmp, 'out')
    expect(exportKubernetes(ws, dir)).toEqual(['ebpfcni.yaml', 'Dockerfile', 'README.md'])
    const docs = parseAllDocuments(readFileSync(join(dir, 'ebpfcni.yaml'), 'utf8')).map((d) => d.toJS())
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'DaemonSet'])
    const cm = new ConfigMap(docs[0])
    cm.validate()
    const ds = new DaemonSet(docs[1])
    ds.validate()
    expect(cm.data?.ebpfcni).toBe(readFileSync(join(ws, 'ebpfcni'), 'utf8'))
    expect(Buffer.from(cm.binaryData!['ebpfcni.bpf.o'], 'base64')).toEqual(readFileSync(join(ws, 'ebpfcni.bpf.o')))
    const pod = ds.spec!.template.spec!
    expect(pod.hostNetwork).toBe(true)
    expect(pod.tolerations).toEqual([{operator: 'Exists'}])
    const init = pod.initContainers![0]
    expect(init.securityContext?.privileged).toBe(true)
    expect(init.volumeMounts?.find((m) => m.mountPath === '/sys/fs/bpf')?.mountPropagation).toBe('Bidirectional')
    expect(cm.data?.['install.sh']).toMatch(/install -m 0755 \/files\/ebpfcni \/host\/opt\/cni\/bin\/ebpfcni/)
    expect(cm.data?.['install.sh']).toMatch(/ebpfcni bpf load \/files\/ebpfcni\.bpf\.o --replace/)
    expect(readFileSync(join(dir, 'Dockerfile'), 'utf8')).toMatch(/^FROM node:22-bookworm-slim$/m)
  })

  it('without a built program: no binaryData, and the install script skips the load', () => {
    const k = kubernetesObjects(workspace(false))
    const cm = new ConfigMap(k.objects[0] as ConstructorParameters<typeof ConfigMap>[0])
    cm.validate()
    expect(cm.binaryData).toBeUndefined()
    expect(k.files).toEqual(['ebpfcni', '10-ebpfcni.conf'])
  })

  it('a workspace without a plugin is a clear error; so is a directory that is not empty', () => {
    expect(() => kubernetesObjects(join(tmp, 'nothing'))).toThrow(/ebpfcni is missing/)
    const full = join(tmp, 'full')
    mkdirSync(full, {recursive: true})
    writeFileSync(join(full, 'x'), 'x')
    expect(() => exportKubernetes(workspace(false), full)).toThrow(/is not empty/)
  })

  it('a broken manifest fails the same validation (the test can fail)', () => {
    const ds = kubernetesObjects(workspace(false)).objects[1] as {spec: Record<string, unknown>}
    delete ds.spec.selector
    expect(() => new DaemonSet(ds as ConstructorParameters<typeof DaemonSet>[0]).validate()).toThrow(/selector/)
  })
})
