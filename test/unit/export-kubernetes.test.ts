import {describe, it, expect, afterAll} from 'vitest'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseAllDocuments} from 'yaml'
import {ConfigMap} from 'kubernetes-models/v1'
import {DaemonSet} from 'kubernetes-models/apps/v1'
import {ServiceAccount} from 'kubernetes-models/v1'
import {ClusterRole, ClusterRoleBinding} from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import {execa} from 'execa'
import {exportKubernetes, kubernetesObjects} from '../../src/labs/export-kubernetes.js'
import {repoRoot, requireBuilt} from '../helpers/env.js'

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

  it("with lab 4's controller: RBAC to list NetworkPolicies and a policy container per node, all valid; the CLI takes its command", async () => {
    const k = kubernetesObjects(workspace(true), {policyController: true})
    expect(k.objects.map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
    ])
    type Arg<T extends abstract new (...a: never[]) => unknown> = ConstructorParameters<T>[0]
    const sa = new ServiceAccount(k.objects[0] as Arg<typeof ServiceAccount>)
    const role = new ClusterRole(k.objects[1] as Arg<typeof ClusterRole>)
    const binding = new ClusterRoleBinding(k.objects[2] as Arg<typeof ClusterRoleBinding>)
    const ds = new DaemonSet(k.objects[4] as Arg<typeof DaemonSet>)
    for (const o of [sa, role, binding, ds]) o.validate()
    expect(role.rules).toEqual([
      {apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['get', 'list', 'watch']},
    ])
    expect(binding.subjects).toEqual([{kind: 'ServiceAccount', name: sa.metadata!.name, namespace: 'kube-system'}])
    const pod = ds.spec!.template.spec!
    expect(pod.serviceAccountName).toBe(sa.metadata!.name)
    const policy = pod.containers.find((c) => c.name === 'policy')!
    expect(policy.command).toContain('kubernetes')
    const mounts = new Map(policy.volumeMounts!.map((m) => [m.name, m.mountPath]))
    const volumes = new Map(pod.volumes!.map((v) => [v.name, v.hostPath?.path]))
    for (const [name, path] of mounts) expect(volumes.get(name), `volume ${name}`).toBe(path)
    // The container's command as the real CLI parses it: flags accepted; outside a node, the
    // runtime's socket is missing, and that is what it says (exit 2).
    requireBuilt()
    const [, ...args] = policy.command!
    const r = await execa('node', [join(repoRoot, 'bin/run.js'), ...args], {
      reject: false,
      stdin: 'ignore',
      timeout: 30_000,
      env: {CI: 'true', EBPFCNI_STATE_DIR: join(tmp, 'state')},
    })
    expect(r.exitCode, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/cannot list pods from the CRI runtime/)
  })

  it('as typed, `ebpfcni export kubernetes DIR`: exit 0, manifests that validate, the DaemonSet installing the workspace files', async () => {
    requireBuilt()
    const ws = workspace(true)
    const cli = (args: string[]) =>
      execa('node', [join(repoRoot, 'bin/run.js'), ...args], {
        reject: false,
        stdin: 'ignore',
        timeout: 30_000,
        cwd: tmp,
        env: {CI: 'true', EBPFCNI_STATE_DIR: join(tmp, 'state-cli'), EBPFCNI_WORKSPACE: ws},
      })
    const r = await cli(['export', 'kubernetes', './k8s-cli'])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/ebpfcni\.yaml, Dockerfile, README\.md in .*k8s-cli/)
    const docs = parseAllDocuments(readFileSync(join(tmp, 'k8s-cli', 'ebpfcni.yaml'), 'utf8')).map((d) => d.toJS())
    expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'DaemonSet'])
    const cm = new ConfigMap(docs[0])
    const ds = new DaemonSet(docs[1])
    cm.validate()
    ds.validate()
    // The DaemonSet mounts the ConfigMap that carries the workspace's files, and its init container
    // runs the script that installs each of them where the runtime and the plugin look.
    const pod = ds.spec!.template.spec!
    const files = pod.volumes!.find((v) => v.configMap)!
    expect(files.configMap!.name).toBe(cm.metadata!.name)
    const init = pod.initContainers![0]
    expect(init.volumeMounts).toContainEqual({name: files.name, mountPath: '/files'})
    expect(init.command).toEqual(['/bin/sh', '/files/install.sh'])
    for (const f of ['ebpfcni', '10-ebpfcni.conf']) {
      expect(cm.data![f], f).toBe(readFileSync(join(ws, f), 'utf8'))
      expect(cm.data!['install.sh']).toContain(`/files/${f} `)
    }
    expect(Buffer.from(cm.binaryData!['ebpfcni.bpf.o'], 'base64')).toEqual(readFileSync(join(ws, 'ebpfcni.bpf.o')))
    // --json says the same; broken input is refused with what to do, and exit 2.
    const j = await cli(['export', 'kubernetes', './k8s-json', '--json'])
    expect(JSON.parse(j.stdout)).toMatchObject({
      platform: 'kubernetes',
      files: ['ebpfcni.yaml', 'Dockerfile', 'README.md'],
    })
    const again = await cli(['export', 'kubernetes', './k8s-cli'])
    expect(again.exitCode).toBe(2)
    expect(again.stderr).toMatch(/is not empty/)
    const empty = await cli(['export', 'kubernetes', './k8s-none', '--workspace', join(tmp, 'nothing')])
    expect(empty.exitCode).toBe(2)
    expect(empty.stderr).toMatch(/ebpfcni is missing(.|\n)*hint: export the workspace of a lab you have done/)
    const typo = await cli(['export', 'kubernets', './k8s-typo'])
    expect(typo.exitCode).toBe(2)
    expect(typo.stderr).toMatch(/Expected kubernets to be one of: instruqt, killercoda, kubernetes/)
  })

  it("with a lab's node agent beside lab 4's controller: one service account, a role each, the agent's files in a ConfigMap of its own, the CLI takes its command", async () => {
    const agent = {
      lab: 6,
      slug: 'services',
      summary: 'the Services',
      rbac: [{apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch']}],
      files: {'prog.bpf.o': Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0xff]), 'agent.mjs': Buffer.from('export {}\n')},
    }
    const k = kubernetesObjects(workspace(true), {policyController: true, agents: [agent]})
    expect(k.objects.map((o) => o.kind)).toEqual([
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'ConfigMap',
      'DaemonSet',
    ])
    type Arg<T extends abstract new (...a: never[]) => unknown> = ConstructorParameters<T>[0]
    const sa = new ServiceAccount(k.objects[0] as Arg<typeof ServiceAccount>)
    const bindings = [k.objects[2], k.objects[4]].map(
      (o) => new ClusterRoleBinding(o as Arg<typeof ClusterRoleBinding>),
    )
    const roles = [k.objects[1], k.objects[3]].map((o) => new ClusterRole(o as Arg<typeof ClusterRole>))
    const cm = new ConfigMap(k.objects[6] as Arg<typeof ConfigMap>)
    const ds = new DaemonSet(k.objects[7] as Arg<typeof DaemonSet>)
    for (const o of [sa, ...bindings, ...roles, cm, ds]) o.validate()
    for (const b of bindings)
      expect(b.subjects).toEqual([{kind: 'ServiceAccount', name: sa.metadata!.name, namespace: 'kube-system'}])
    expect(roles[1].rules).toEqual(agent.rbac)
    // Text as data, the object as binaryData, byte for byte.
    expect(cm.data).toEqual({'agent.mjs': 'export {}\n'})
    expect(Buffer.from(cm.binaryData!['prog.bpf.o'], 'base64')).toEqual(agent.files['prog.bpf.o'])
    const pod = ds.spec!.template.spec!
    expect(pod.serviceAccountName).toBe(sa.metadata!.name)
    expect(pod.containers.map((c) => c.name)).toEqual(['policy', 'agent-services'])
    const container = pod.containers[1]
    const volumes = new Map(pod.volumes!.map((v) => [v.name, v]))
    for (const m of container.volumeMounts!) expect(volumes.has(m.name), `volume ${m.name}`).toBe(true)
    expect(volumes.get('host-cgroup')!.hostPath!.path).toBe('/sys/fs/cgroup')
    expect(volumes.get(container.volumeMounts![0].name)!.configMap!.name).toBe(cm.metadata!.name)
    expect(container.command).toEqual(expect.arrayContaining(['agent', '6', '--cgroup', '/host/sys/fs/cgroup']))
    // The command as the real CLI parses it: outside a pod, no service account, and it says so (exit 2).
    requireBuilt()
    const [, ...args] = container.command!
    const r = await execa('node', [join(repoRoot, 'bin/run.js'), ...args], {
      reject: false,
      stdin: 'ignore',
      timeout: 30_000,
      env: {CI: 'true', EBPFCNI_STATE_DIR: join(tmp, 'state-agent'), KUBERNETES_SERVICE_HOST: ''},
    })
    expect(r.exitCode, r.stderr).toBe(2)
    expect(r.stderr).toMatch(/not in a Kubernetes pod/)
  })

  it('a broken manifest fails the same validation (the test can fail)', () => {
    const ds = kubernetesObjects(workspace(false)).objects[1] as {spec: Record<string, unknown>}
    delete ds.spec.selector
    expect(() => new DaemonSet(ds as ConstructorParameters<typeof DaemonSet>[0]).validate()).toThrow(/selector/)
  })
})
