import {describe, it, expect, afterEach} from 'vitest'
import {join} from 'node:path'
import {tempStateDir} from '../helpers/env.js'
import {Ledger} from '../../src/host/ledger.js'
import {checkOwner, podOwner, processOwner} from '../../src/host/owners.js'
import {CheckPods} from '../../src/checks/check-pods.js'
import {labModule} from '../../src/labs/registry.js'
import {loadLabs} from '../../src/labs/catalogue.js'
import {realTargets} from '../../src/labs/install-targets.js'
import {NetnsRuntime} from '../../src/pods/netns-runtime.js'
import type {PodRecord} from '../../src/pods/types.js'

// Ledger owners live in namespaces: a pod named like a background process is not that process,
// and a check run's objects carry the lab that made them.

describe('ledger owners', () => {
  const t = tempStateDir()
  afterEach(() => t.cleanup())

  it('deleting a pod named "metrics-exporter" leaves the metrics exporter\'s entry alone', async () => {
    const ledger = new Ledger(join(t.dir, 'ledger.json'))
    const exporter = ledger.record('process', 'metrics exporter', {
      lab: 3,
      owner: processOwner('metrics-exporter'),
      details: {pid: 2 ** 30},
    })
    const pod: PodRecord = {
      name: 'metrics-exporter',
      runtime: 'netns',
      containerId: 'x',
      netnsPath: '/run/netns/ebpfcni-metrics-exporter',
      netnsName: 'ebpfcni-metrics-exporter',
      ifname: 'eth0',
      configFile: join(t.dir, 'none.conf'),
      cniPath: [],
      labels: {},
      workload: 'sleep',
      createdAt: '',
    }
    ledger.record('pod', pod.name, {details: {...pod}})
    ledger.record('netns', pod.netnsName!, {owner: podOwner(pod.name)})
    await new NetnsRuntime(ledger).remove(pod).catch(() => undefined) // DEL fails: no config; cleanup still runs
    expect(ledger.entries().map((e) => e.id)).toEqual([exporter.id])
  })

  it("a check run's cleanup deletes only its netns entries: another kind it owns stays for reset's own remover", async () => {
    const ledger = new Ledger(join(t.dir, 'ledger.json'))
    const pods = new CheckPods(['/opt/cni/bin'], 1000, checkOwner(1), 1, ledger)
    // A workload the run started, owned by the run (lab 1's context stops these itself, first).
    const proc = ledger.record('process', 'httpbin in pod x', {lab: 1, owner: pods.checkOwner, details: {pid: 2 ** 30}})
    const ns = ledger.record('netns', `ebpfcni-chk-none-${process.pid}`, {lab: 1, owner: pods.checkOwner})
    await pods.cleanup()
    // The netns entry is settled; the process entry is not forgotten as if it were a netns.
    expect(ledger.entries().map((e) => e.id)).toEqual([proc.id])
    expect(ledger.entries().some((e) => e.id === ns.id)).toBe(false)
  })

  it("each lab's check context records its objects under that lab", async () => {
    for (const {id: lab} of loadLabs()) {
      const ctx = (await labModule(lab))!.context({
        lab,
        targets: realTargets(),
        workspace: t.dir,
        runtime: 'netns',
        ledger: new Ledger(join(t.dir, `l${lab}.json`)),
      }) as {pods: {labId: number; checkOwner: string}; plugin: {opts: {lab: number}}; cleanup(): Promise<void>}
      expect([ctx.pods.labId, ctx.pods.checkOwner, ctx.plugin.opts.lab]).toEqual([lab, `check:lab${lab}`, lab])
      await ctx.cleanup()
    }
  })
})
