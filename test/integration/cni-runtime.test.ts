import {describe, it, expect, beforeAll, afterAll, afterEach} from 'vitest'
import {writeFileSync, readdirSync, readFileSync, rmSync, existsSync} from 'node:fs'
import {join} from 'node:path'
import {PodService} from '../../src/pods/service.js'
import {Ledger} from '../../src/host/ledger.js'
import {httpGet, ping} from '../../src/net/probes.js'
import {link} from '../../src/net/ip.js'
import {PodError} from '../../src/pods/errors.js'
import {tempStateDir, repoRoot, requireRoot, uniq} from '../helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '../helpers/host.js'

const FIXTURES = join(repoRoot, 'test/fixtures/plugins')

describe('CNI runtime with Debian reference plugins and broken plugins', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `rb${id}`
  const ipamDir = join(t.dir, 'ipam')
  const refConf = join(t.dir, 'ref.conflist')
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    if (!existsSync('/usr/lib/cni/bridge'))
      throw new Error(
        "Debian's reference plugins are missing: apt-get install containernetworking-plugins (scripts/setup.sh does it)",
      )
    process.env.EBPFCNI_STATE_DIR = t.dir
    writeFileSync(
      refConf,
      JSON.stringify({
        cniVersion: '1.0.0',
        name: `ref${id}`,
        plugins: [
          {
            type: 'bridge',
            bridge,
            isGateway: true,
            ipMasq: false,
            ipam: {type: 'host-local', ranges: [[{subnet: '10.231.7.0/24'}]], dataDir: ipamDir},
          },
        ],
      }),
    )
    before = await hostSnapshot()
  })
  afterEach(async () => {
    const pods = new PodService()
    for (const p of pods.list()) await pods.remove(p.name).catch(() => undefined)
  })
  afterAll(async () => {
    await deleteLinkQuietly(bridge)
    delete process.env.EBPFCNI_STATE_DIR
    rmSync('/tmp/ebpfcni-records-env', {recursive: true, force: true})
    t.cleanup()
  })

  const allocated = (): string[] =>
    existsSync(join(ipamDir, `ref${id}`))
      ? readdirSync(join(ipamDir, `ref${id}`)).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
      : []

  for (const runtime of ['netns', 'podman'] as const) {
    it(`${runtime}: two pods get distinct IPs, talk over HTTP and ICMP; DEL removes veths and releases IPs`, async () => {
      const pods = new PodService()
      const a = await pods.add({name: `a${id}`, configFile: refConf, labels: {app: 'a'}}, runtime)
      const b = await pods.add(
        {name: `b${id}`, configFile: refConf, workload: runtime === 'netns' ? 'sleep' : 'httpbin'},
        runtime,
      )
      expect(a.ip).toMatch(/^10\.231\.7\.\d+$/)
      expect(b.ip).toMatch(/^10\.231\.7\.\d+$/)
      expect(a.ip).not.toBe(b.ip)
      expect(allocated().sort()).toEqual([a.ip, b.ip].sort())
      const vethA = await pods.hostVeth(a)
      const vethB = await pods.hostVeth(b)
      expect(vethA).toBeTruthy()
      expect((await link(vethA!))?.master).toBe(bridge)

      const get = await httpGet(b.netnsPath, `http://${a.ip}/get`)
      expect(get.ok, get.detail).toBe(true)
      expect(get.body).toContain(runtime === 'netns' ? `"pod": "a${id}"` : 'busybox httpd')
      expect((await ping(a.netnsPath, b.ip!)).ok).toBe(true)

      await pods.remove(a.name)
      await pods.remove(b.name)
      expect(await link(vethA!)).toBeUndefined()
      expect(await link(vethB!)).toBeUndefined()
      expect(allocated()).toEqual([])
      expect(pods.list()).toEqual([])
    })
  }

  it('calls the plugin exactly as the spec says: CNI_* env, injected name/cniVersion, prevResult on DEL', async () => {
    const conf = join(t.dir, 'rec.conf')
    writeFileSync(conf, JSON.stringify({cniVersion: '1.0.0', name: `rec${id}`, type: 'records-env', extra: 42}))
    const pods = new PodService()
    const p = await pods.add({name: `r${id}`, configFile: conf, cniPath: [FIXTURES], workload: 'sleep'})
    const env = readFileSync('/tmp/ebpfcni-records-env/ADD.env', 'utf8')
    expect(env).toContain('CNI_COMMAND=ADD')
    expect(env).toContain(`CNI_CONTAINERID=${p.containerId}`)
    expect(env).toContain(`CNI_NETNS=/run/netns/ebpfcni-r${id}`)
    expect(env).toContain('CNI_IFNAME=eth0')
    expect(env).toMatch(/CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=r/)
    expect(env).toContain(`CNI_PATH=${FIXTURES}`)
    const addIn = JSON.parse(readFileSync('/tmp/ebpfcni-records-env/ADD.stdin', 'utf8'))
    expect(addIn).toMatchObject({cniVersion: '1.0.0', name: `rec${id}`, type: 'records-env', extra: 42})
    expect(addIn.prevResult).toBeUndefined()
    expect(readFileSync('/tmp/ebpfcni-records-env/VERSION.stdin', 'utf8')).toBe('{"cniVersion":"1.0.0"}')
    await pods.remove(p.name)
    const delIn = JSON.parse(readFileSync('/tmp/ebpfcni-records-env/DEL.stdin', 'utf8'))
    expect(delIn.prevResult).toEqual(p.result)
    expect(readFileSync('/tmp/ebpfcni-records-env/DEL.env', 'utf8')).toContain('CNI_COMMAND=DEL')
  })

  const broken: Array<[string, RegExp]> = [
    ['hang', /VERSION of plugin "hang" did not finish within 1 s and was killed/],
    ['exit-no-json', /exited 1 with no error JSON on stdout; SPEC §Error expects .*stderr: something went wrong/],
    ['junk-before-json', /stdout has text before the JSON: "creating veth\.\.\.\\n"/],
    ['error-json', /failed with error code 7 \(Invalid network config\): podcidr missing — the config has no podcidr/],
    [
      'missing-fields',
      /interfaces\[0\]\.name is required.*interfaces\[0\]\.mac must be a MAC.*ips\[0\]\.address must be an address in CIDR form/,
    ],
    ['iface-out-of-range', /ips\[0\]\.interface is 2 but "interfaces" has 1 entry: the index points past the list/],
    ['wrong-version', /plugin "wrong-version" supports 0\.3\.0, 0\.3\.1 but the config declares cniVersion "1\.0\.0"/],
    ['half-made-link', /failed with error code 5 \(I\/O failure\): gave up half-way/],
    ['not-there', /no executable "not-there" on CNI_PATH/],
  ]
  for (const [plugin, message] of broken) {
    it(`a plugin that is broken (${plugin}) gives one clear message and leaves nothing behind`, async () => {
      const conf = join(t.dir, `${plugin}.conf`)
      writeFileSync(conf, JSON.stringify({cniVersion: '1.0.0', name: 'broken', type: plugin}))
      const pods = new PodService()
      const err = await pods
        .add({name: `x${id}`, configFile: conf, cniPath: [FIXTURES], timeoutMs: 1000})
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(PodError)
      expect((err as PodError).message).toMatch(/^CNI ADD for pod x/)
      expect((err as PodError).message).toMatch(message)
      expect(pods.list()).toEqual([])
      expect(new Ledger().entries()).toEqual([])
      const now = await hostSnapshot()
      // Debian's bridge plugin never deletes its bridge (by design); everything else must match.
      expect({...now, links: now.links.filter((l) => l !== bridge)}).toEqual(before)
    })
  }

  it('ends the whole process group of a hung plugin (no orphaned sleep)', async () => {
    const {execa} = await import('execa')
    const countSleeps = async () => (await execa('pgrep', ['-fc', `^sleep 1000$`], {reject: false})).stdout.trim()
    const conf = join(t.dir, 'hang.conf')
    writeFileSync(conf, JSON.stringify({cniVersion: '1.0.0', name: 'broken', type: 'hang'}))
    const n = await countSleeps()
    await new PodService()
      .add({name: `h${id}`, configFile: conf, cniPath: [FIXTURES], timeoutMs: 500})
      .catch(() => undefined)
    expect(await countSleeps()).toBe(n)
  })
})
