import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {cliRunner} from '#test/helpers/env.js'
import {nodeBinDir} from '#test/helpers/lab-harness.js'

/**
 * `ebpfcni pod …` as an attendee runs it by hand, on a setup of the test's own under dir: a CNI bin dir, a
 * workspace with the network config (name, podcidr, bridge; IPAM state under dir too), and the CLI pointed
 * at them. prepare() makes it (in beforeAll: it needs root); install() puts a plugin both in the bin dir and
 * in the workspace, so `pod add` runs what the test wrote.
 */
export function pluginPods(dir: string, network: {name: string; podcidr: string; bridge: string}) {
  const bin = join(dir, 'bin')
  const ws = join(dir, 'ws')
  const conf = join(ws, '10-ebpfcni.conf')
  const cli = cliRunner({
    EBPFCNI_STATE_DIR: join(dir, 'state'),
    EBPFCNI_WORKSPACE: ws,
    EBPFCNI_CNI_BIN_DIR: bin,
    EBPFCNI_CNI_CONF_DIR: join(dir, 'net.d'),
    NO_COLOR: '1',
    CI: 'true',
  })
  const install = (plugin: string): void => {
    for (const d of [bin, ws]) {
      writeFileSync(join(d, 'ebpfcni'), plugin)
      chmodSync(join(d, 'ebpfcni'), 0o755)
    }
  }
  const prepare = (): void => {
    nodeBinDir(bin)
    mkdirSync(ws, {recursive: true})
    writeFileSync(conf, JSON.stringify({cniVersion: '1.0.0', type: 'ebpfcni', ...network, dataDir: join(dir, 'ipam')}))
  }
  return {bin, ws, conf, cli, install, prepare}
}
