import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {chmodSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {execa} from 'execa'
import {requireRoot, tempStateDir, uniq} from '../helpers/env.js'
import {deleteLinkQuietly, hostSnapshot} from '../helpers/host.js'
import {Ledger} from '../../src/host/ledger.js'
import {CheckPods} from '../../src/checks/check-pods.js'
import {parseNetworkConfig} from '../../src/cni/config.js'
import {link} from '../../src/net/ip.js'

// Walked: a lab 1 plugin that forgot `netns` on the veth's peer leaves both ends on the host when ADD
// fails, and the starter's DEL (a TODO until step 3) removes nothing. The next run's ADD then meets that
// leftover ("File exists") and the hint blames `netns` again, though it was fixed. The check's pods take
// a failed ADD's stray pod end (and its peer) with them; a link that was there before is never touched.

const strayPlugin = `#!/bin/bash
case "$CNI_COMMAND" in
ADD)
  ip link add "h$(echo "$CNI_CONTAINERID" | md5sum | cut -c1-8)" type veth peer name "$CNI_IFNAME" >&2
  echo '{"cniVersion":"1.0.0","code":11,"msg":"cannot finish the pod"}'; exit 1 ;;
DEL) exit 0 ;;
esac
`

describe('check pods: a failed ADD leaves no pod end on the host', () => {
  const t = tempStateDir()
  const id = uniq()
  const bin = join(t.dir, 'bin')
  const net = parseNetworkConfig(JSON.stringify({cniVersion: '1.0.0', name: `stray${id}`, type: 'stray'}), 'test')
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    mkdirSync(bin, {recursive: true})
    writeFileSync(join(bin, 'stray'), strayPlugin)
    chmodSync(join(bin, 'stray'), 0o755)
    before = await hostSnapshot()
  })
  afterAll(async () => {
    await deleteLinkQuietly(`sp${id}`)
    await deleteLinkQuietly(`pre${id}`)
    t.cleanup()
  })

  it('removes the veth pair a failed ADD made on the host, and the next ADD of the same pod meets no leftover', async () => {
    for (const run of [1, 2]) {
      const pods = new CheckPods([bin], 5000, `test-stray-${id}`, undefined, new Ledger(join(t.dir, 'ledger.json')))
      const pod = await pods.attach(net, 'httpbin', {ifname: `sp${id}`})
      expect(pod.outcome.ok).toBe(false)
      // Before cleanup the stray end is there: the check's hint reads it.
      expect((await link(`sp${id}`))?.linkinfo?.info_kind, `run ${run}: the plugin made its pair`).toBe('veth')
      await pods.cleanup()
      expect(await link(`sp${id}`), `run ${run}: the pod end is gone`).toBeUndefined()
      expect(await hostSnapshot(), `run ${run}: its host end is gone too`).toEqual(before)
    }
  }, 60_000)

  it('never removes a link named like the pod end that was on the host before the ADD', async () => {
    await execa('ip', ['link', 'add', `sp${id}`, 'type', 'veth', 'peer', 'name', `pre${id}`])
    try {
      const pods = new CheckPods([bin], 5000, `test-stray-${id}`, undefined, new Ledger(join(t.dir, 'ledger.json')))
      const pod = await pods.attach(net, 'httpbin', {ifname: `sp${id}`})
      expect(pod.outcome.ok).toBe(false)
      await pods.cleanup()
      expect((await link(`sp${id}`))?.linkinfo?.info_kind).toBe('veth')
    } finally {
      await deleteLinkQuietly(`sp${id}`)
    }
    expect(await hostSnapshot()).toEqual(before)
  }, 60_000)
})
