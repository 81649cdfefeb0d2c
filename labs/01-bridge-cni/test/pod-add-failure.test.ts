import {describe, it, expect, beforeAll, beforeEach, afterAll} from 'vitest'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireRoot, requireBuilt, uniq} from '#test/helpers/env.js'
import {hostSnapshot, deleteLinkQuietly} from '#test/helpers/host.js'
import {pluginPods} from './plugin-pods.js'
import {LAB1_MUTANTS} from './mutants.js'

// `ebpfcni pod add` with a broken plugin installed, as an attendee runs it by hand: after the
// plugin's own output, a hint line names the cause the add step's check names (one classifier).

const SOLUTION = readFileSync(join(repoRoot, 'labs/01-bridge-cni/solution/ebpfcni'), 'utf8')
const mutant = (name: string): string => {
  const m = LAB1_MUTANTS.find((x) => x.name === name)!
  expect(SOLUTION.includes(m.find), `the mutant's anchor is no longer in the solution: ${m.find}`).toBe(true)
  return SOLUTION.replace(m.find, m.replace)
}

describe('pod add names the cause of a failed ADD', () => {
  const t = tempStateDir()
  const id = uniq()
  const bridge = `pa${id}`
  const {bin, conf, cli, install, prepare} = pluginPods(t.dir, {name: `podadd${id}`, podcidr: '10.246.0.0/24', bridge})
  const podAdd = (name: string, json = false) =>
    cli(['pod', 'add', name, '--workload', 'sleep', '--config', conf, '--cni-path', bin, ...(json ? ['--json'] : [])])
  let before: Awaited<ReturnType<typeof hostSnapshot>>

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    prepare()
    before = await hostSnapshot()
  })
  // Each case starts with no bridge (a failed case's may be left).
  beforeEach(() => deleteLinkQuietly(bridge))
  afterAll(async () => {
    await cli(['reset', '--all', '--yes'])
    await deleteLinkQuietly(bridge)
    t.cleanup()
  })

  it("the veth's pod end made on the host: the hint says where it went and the netns that puts it in the pod", async () => {
    // ip answers "File exists" because this host has an eth0 of its own (as lab 1's mutant relies on).
    install(mutant("the veth's pod end is made on the host (no netns on the peer)"))
    const r = await podAdd('vethhost')
    expect(r.exitCode, r.stderr).toBe(1)
    // The plugin's output first (its stderr), then the cause as a hint line.
    expect(r.stderr).toMatch(
      /error: CNI ADD for pod vethhost: .*cannot create the veth pair — RTNETLINK answers: File exists\nhint: the pod end of the veth, named eth0, was made in the host's namespace, where eth0 already exists .*netns "\$CNI_NETNS"/,
    )
    const j = await podAdd('vethhost', true)
    expect((JSON.parse(j.stdout) as {error: {hint?: string}}).error.hint).toMatch(/made in the host's namespace/)
    // The failed pod is gone (DEL and its netns removal ran after the hint was read).
    expect((await cli(['pod', 'list'])).stdout).not.toMatch(/vethhost/)
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  })

  it('the bridge made on every ADD: the second pod add says the bridge was made again', async () => {
    install(mutant('the bridge is created on every ADD: the second pod finds it and fails'))
    const first = await podAdd('first')
    expect(first.exitCode, first.stderr).toBe(0)
    try {
      const second = await podAdd('second')
      expect(second.exitCode, second.stderr).toBe(1)
      expect(second.stderr).toMatch(
        new RegExp(
          `error: CNI ADD for pod second: .*cannot create bridge ${bridge}.*stderr: RTNETLINK answers: File exists\\nhint: ip refused to make bridge ${bridge} again \\("File exists"\\): .*create it only when it is missing`,
        ),
      )
    } finally {
      await cli(['pod', 'del', 'first'])
    }
    await deleteLinkQuietly(bridge)
    expect(await hostSnapshot()).toEqual(before)
  })

  it('a failure whose cause the scene does not show gets no hint line, only what the plugin said', async () => {
    // ADD refused for a reason of its own: the plugin's error is the whole story.
    install(
      SOLUTION.replace('ADD)\n  [ -e "$CNI_NETNS" ]', 'ADD)\n  error 100 "refusing on purpose"\n  [ -e "$CNI_NETNS" ]'),
    )
    const r = await podAdd('refused')
    expect(r.exitCode, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/error: CNI ADD for pod refused: .*refusing on purpose/)
    expect(r.stderr).not.toMatch(/\nhint:/)
    expect(await hostSnapshot()).toEqual(before)
  })
})
