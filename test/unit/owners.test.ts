import {describe, it, expect, afterEach} from 'vitest'
import {join} from 'node:path'
import {tempStateDir} from '../helpers/env.js'
import {Ledger} from '../../src/host/ledger.js'
import {podOwner, processOwner} from '../../src/host/owners.js'
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
