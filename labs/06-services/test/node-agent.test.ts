import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa, type ResultPromise} from 'execa'
import {parseAllDocuments} from 'yaml'
import {ConfigMap} from 'kubernetes-models/v1'
import {DaemonSet} from 'kubernetes-models/apps/v1'
import {ClusterRole} from 'kubernetes-models/rbac.authorization.k8s.io/v1'
import {cliBin, repoRoot, requireBuilt, requireRoot, uniq} from '#test/helpers/env.js'
import {fakeKubeApi, type FakeKubeApi} from '#test/helpers/fake-kube-api.js'
import {cgroup2Root, CGROUP_PREFIX, removeCgroup} from '../cgroups.js'
import {CLIENT, type RequestResult} from '../client.js'
import {servicePorts} from '../kube-services.js'

// Lab 6 on a cluster's node, as far as one VM goes: `ebpfcni export kubernetes` as typed, the
// agent's ConfigMap written out as the kubelet mounts it, and the DaemonSet's agent container's own
// command run on this host against a stand-in API server (Services, EndpointSlices), with its
// --cgroup pointed at a cgroup of the test's (a node's would be its hierarchy's root). A client in
// a network namespace of the test's, in a cgroup under that one, connects to the VIP: backends
// answer, then follow the EndpointSlice, and the Service's removal takes the VIP away.

const read = (rel: string): string => readFileSync(join(repoRoot, rel), 'utf8')
const VIP = '10.96.66.20'
const BACKENDS = ['10.249.66.2', '10.249.66.3']
const CLIENT_IP = '10.249.66.1'

const service = {
  metadata: {namespace: 'default', name: 'web', uid: 'u-web'},
  spec: {clusterIP: VIP, type: 'ClusterIP', ports: [{name: 'http', port: 80, protocol: 'TCP', targetPort: 'web'}]},
}
const slice = (ready: boolean[]) => ({
  metadata: {namespace: 'default', name: 'web-x1', labels: {'kubernetes.io/service-name': 'web'}},
  addressType: 'IPv4',
  // The targetPort is named: only the EndpointSlice says its number.
  ports: [{name: 'http', port: 8080, protocol: 'TCP'}],
  endpoints: BACKENDS.map((ip, i) => ({addresses: [ip], conditions: {ready: ready[i]}})),
})

describe('servicePorts: what the agent reads from the API', () => {
  it('resolves named target ports from the slices, skips not-ready endpoints, headless and IPv6 Services', () => {
    const headless = {metadata: {namespace: 'default', name: 'h'}, spec: {clusterIP: 'None', ports: [{port: 80}]}}
    const v6 = {metadata: {namespace: 'default', name: 'v6'}, spec: {clusterIP: 'fd00::1', ports: [{port: 80}]}}
    const other = {...slice([true, true]), metadata: {...slice([]).metadata, namespace: 'shop'}}
    const got = servicePorts({items: [service, headless, v6]}, {items: [slice([true, false]), other]})
    expect(got).toEqual([
      {key: 'default/web:http', clusterIP: VIP, port: 80, protocol: 'TCP', backends: [{ip: BACKENDS[0], port: 8080}]},
    ])
    // A Service with no slice yet: the VIP is known, with no backend (connect4 refuses at once).
    expect(servicePorts({items: [service]}, {items: []})[0].backends).toEqual([])
    expect(servicePorts({kind: 'Status'}, null)).toEqual([])
  })
})

describe('lab 6 on a node: the exported agent against a stand-in API', () => {
  const tag = uniq()
  const nsClient = `l6k-c-${tag}`
  const nsBackend = `l6k-b-${tag}`
  const veth = `l6k${tag}`
  const tmp = mkdtempSync(join(tmpdir(), 'ebpfcni-l6-k8s-'))
  const pinDir = `/sys/fs/bpf/ebpfcni-test-l6k-${tag}`
  let cgroup = ''
  let api: FakeKubeApi
  let agent: ResultPromise | undefined
  let agentLog = ''
  const servers: ResultPromise[] = []

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    api = await fakeKubeApi()
    const root = cgroup2Root()
    if (!root) throw new Error('no cgroup2 mounted')
    cgroup = join(root, `${CGROUP_PREFIX}k8s-${tag}`)
    for (const d of [cgroup, join(cgroup, 'client'), join(root, `${CGROUP_PREFIX}k8s-${tag}-other`)]) mkdirSync(d)
    const ip = (...a: string[]) => execa('ip', a, {timeout: 10_000})
    await ip('netns', 'add', nsClient)
    await ip('netns', 'add', nsBackend)
    await ip('link', 'add', veth, 'netns', nsClient, 'type', 'veth', 'peer', 'name', `${veth}b`, 'netns', nsBackend)
    await ip('-n', nsClient, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', veth)
    for (const b of BACKENDS) await ip('-n', nsBackend, 'addr', 'add', `${b}/24`, 'dev', `${veth}b`)
    for (const [ns, dev] of [
      [nsClient, veth],
      [nsBackend, `${veth}b`],
    ]) {
      await ip('-n', ns, 'link', 'set', dev, 'up')
      await ip('-n', ns, 'link', 'set', 'lo', 'up')
    }
    // One HTTP server per backend address, answering with its name (the client reports it).
    for (const [i, b] of BACKENDS.entries()) {
      const script = `require('http').createServer((q, r) => r.end(JSON.stringify({pod: 'web-${i}'}))).listen(8080, '${b}', () => console.log('listening'))`
      const s = execa('ip', ['netns', 'exec', nsBackend, process.execPath, '-e', script], {
        reject: false,
        timeout: 180_000,
        stdin: 'ignore',
      })
      servers.push(s)
      await new Promise<void>((resolve, reject) => {
        s.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve())
        void s.then((r) => reject(new Error(`server ${b} ended: ${r.stderr}`)))
      })
    }
  })

  afterAll(async () => {
    agent?.kill('SIGKILL')
    for (const s of servers) s.kill('SIGKILL')
    await Promise.allSettled([agent, ...servers])
    await api?.close()
    for (const ns of [nsClient, nsBackend]) await execa('ip', ['netns', 'del', ns], {reject: false})
    const root = cgroup2Root()
    if (root) for (const d of readdirSync(root).filter((n) => n.includes(`k8s-${tag}`))) removeCgroup(join(root, d))
    rmSync(pinDir, {recursive: true, force: true})
    rmSync(tmp, {recursive: true, force: true})
  })

  /** 40 requests to the VIP from the client pod, in `cg` (a cgroup), each its own connection. */
  const requests = async (cg: string): Promise<RequestResult[]> => {
    const r = await execa(
      'nsenter',
      [
        `--net=/run/netns/${nsClient}`,
        process.execPath,
        '-e',
        CLIENT,
        join(cg, 'cgroup.procs'),
        VIP,
        '80',
        '40',
        '4',
        '2000',
      ],
      {timeout: 60_000, reject: false},
    )
    expect(r.exitCode, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as RequestResult[]
  }
  const logged = async (re: RegExp): Promise<void> => {
    for (const end = Date.now() + 30_000; !re.test(agentLog); await new Promise((r) => setTimeout(r, 50)))
      if (Date.now() > end || agent?.exitCode != null)
        throw new Error(`the agent never logged ${re}; its log:\n${agentLog}`)
  }

  it('export kubernetes --agents carries the built program and agent.mjs, with RBAC for Services and EndpointSlices', async () => {
    const ws = join(tmp, 'ws')
    mkdirSync(ws)
    writeFileSync(join(ws, 'ebpfcni'), read('labs/01-bridge-cni/solution/ebpfcni'))
    writeFileSync(join(ws, '10-ebpfcni.conf'), read('labs/01-bridge-cni/solution/10-ebpfcni.conf'))
    writeFileSync(join(ws, 'services.bpf.c'), read('labs/06-services/solution/peer-and-udp/services.bpf.c'))
    writeFileSync(join(ws, 'agent.mjs'), read('labs/06-services/solution/agent.mjs'))
    const r = await execa('node', [cliBin, 'export', 'kubernetes', join(tmp, 'k8s'), '--agents'], {
      reject: false,
      stdin: 'ignore',
      timeout: 60_000,
      env: {CI: 'true', EBPFCNI_STATE_DIR: join(tmp, 'state'), EBPFCNI_WORKSPACE: ws},
    })
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/lab 6's node agent/)
    const docs = parseAllDocuments(readFileSync(join(tmp, 'k8s', 'ebpfcni.yaml'), 'utf8')).map((d) => d.toJS())
    const role = new ClusterRole(
      docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'ebpfcni-agent-services'),
    )
    role.validate()
    expect(role.rules).toEqual([
      {apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'watch']},
      {apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch']},
    ])
    const cm = new ConfigMap(docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'ebpfcni-agent-services'))
    cm.validate()
    const ds = new DaemonSet(docs.find((d) => d.kind === 'DaemonSet'))
    ds.validate()
    const container = ds.spec!.template.spec!.containers.find((c) => c.name === 'agent-services')!
    expect(container.securityContext?.privileged).toBe(true)
    // The ConfigMap as the kubelet mounts it: a file per key.
    const files = join(tmp, 'files')
    mkdirSync(files)
    for (const [k, v] of Object.entries(cm.data ?? {})) writeFileSync(join(files, k), v)
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) writeFileSync(join(files, k), Buffer.from(v, 'base64'))
    expect(readdirSync(files).sort()).toEqual(['agent.mjs', 'services.bpf.o'])
    expect(readFileSync(join(files, 'services.bpf.o')).subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))

    // The container's own command; on this host the node's cgroup root is the test's cgroup and
    // the API is the stand-in (in a pod: the service account's).
    const [bin, ...args] = container.command!
    expect(bin).toBe('ebpfcni')
    const set = (flag: string, value: string) => args.splice(args.indexOf(flag) + 1, 1, value)
    set('--files', files)
    set('--cgroup', cgroup)
    set('--pin-dir', pinDir)
    api.services = [service]
    api.endpointSlices = [slice([true, true])]
    agent = execa('node', [cliBin, ...args, '--api-server', api.url, '--resync', '1'], {
      reject: false,
      stdin: 'ignore',
      timeout: 240_000,
      env: {CI: 'true', EBPFCNI_STATE_DIR: join(tmp, 'state')},
      all: true,
    })
    agent.all!.on('data', (d: Buffer) => (agentLog += d.toString()))
    await logged(/serving 1 Service port/)
    expect(agentLog).toMatch(/attached connect4, sendmsg4, recvmsg4, getpeername4 to the cgroup/)
  })

  it('a connect to the VIP reaches a backend, both backends share it, and only pods under the cgroup are served', async () => {
    const results = await requests(join(cgroup, 'client'))
    expect(results.filter((r) => r.ok)).toHaveLength(40)
    const by = new Map<string, number>()
    for (const r of results) by.set(r.pod!, (by.get(r.pod!) ?? 0) + 1)
    expect([...by.keys()].sort()).toEqual(['web-0', 'web-1'])
    // A process outside the cgroup: the VIP is an address nothing routes (no route: at once).
    const outside = await requests(join(cgroup2Root()!, `${CGROUP_PREFIX}k8s-${tag}-other`))
    expect(outside.some((r) => r.ok)).toBe(false)
    expect(outside[0].error).toBe('ENETUNREACH')
  })

  it('an endpoint no longer ready leaves the backends; the Service deleted takes the VIP away', async () => {
    api.endpointSlices = [slice([true, false])]
    await logged(new RegExp(`default/web:http - ${BACKENDS[1].replace(/\./g, '\\.')}:8080`))
    const results = await requests(join(cgroup, 'client'))
    expect(results.map((r) => r.pod)).toEqual(Array(40).fill('web-0'))
    api.services = []
    await logged(/- default\/web:http 10\.96\.66\.20:80/)
    const gone = await requests(join(cgroup, 'client'))
    expect(gone.some((r) => r.ok)).toBe(false)
  })

  it('SIGTERM: the agent detaches its programs and unpins them', async () => {
    agent!.kill('SIGTERM')
    const r = await agent!
    expect(agentLog, agentLog).toMatch(/detached from /)
    expect([0, 130]).toContain(r.exitCode)
    const show = await execa('bpftool', ['-j', 'cgroup', 'show', cgroup])
    expect(JSON.parse(show.stdout || '[]')).toEqual([])
    expect(existsSync(join(pinDir, 'services-agent', 'connect4'))).toBe(false)
  })
})
