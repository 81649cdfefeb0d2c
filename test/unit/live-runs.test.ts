import {describe, it, expect} from 'vitest'
import {join} from 'node:path'
import {ebpfcniCommand, liveRun, liveRunAbove} from '../../src/host/live-runs.js'
import type {ProcessEntry} from '../../src/host/processes.js'
import {repoRoot} from '../helpers/env.js'

// Which processes are runs of ebpfcni that reset must leave their objects to (walked: `reset` removed
// a live `lab all --auto`'s cgroup, and its dry run offered to stop other people's plugin calls).
describe('live runs of ebpfcni', () => {
  const run = join(repoRoot, 'bin/run.js')

  it('names a run by its command up to the first flag; another program, or the plugin, is none', () => {
    expect(ebpfcniCommand(['node', run, 'lab', 'all', '--auto', '--json'])).toBe('ebpfcni lab all')
    expect(ebpfcniCommand(['/usr/bin/node', run, 'check', '1', '--step', 'add'])).toBe('ebpfcni check 1')
    expect(ebpfcniCommand(['node', run])).toBe('ebpfcni')
    expect(ebpfcniCommand(['bash', '/opt/cni/bin/ebpfcni'])).toBeUndefined()
    // Another package's bin/run.js (any oclif CLI has one) is not ebpfcni.
    expect(ebpfcniCommand(['node', join(repoRoot, 'node_modules/nonexistent/bin/run.js'), 'lab'])).toBeUndefined()
    expect(ebpfcniCommand(['node', join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run'])).toBeUndefined()
  })

  it('a plugin call is held by the live ebpfcni run above it, not by a shell or init', () => {
    const table: ProcessEntry[] = [
      {pid: 100, ppid: 1, pgid: 100, argv: ['bash']},
      {pid: 200, ppid: 100, pgid: 200, argv: ['node', run, 'check', '1', '--step', 'add']},
      {pid: 300, ppid: 200, pgid: 300, argv: ['bash', '/opt/cni/bin/ebpfcni']},
      {pid: 400, ppid: 1, pgid: 400, argv: ['bash', '/opt/cni/bin/ebpfcni']},
      {pid: 500, ppid: 300, pgid: 300, argv: ['sleep', '3600']},
    ]
    expect(liveRunAbove(300, table)).toEqual({pid: 200, command: 'ebpfcni check 1'})
    expect(liveRunAbove(500, table)).toEqual({pid: 200, command: 'ebpfcni check 1'})
    // Orphaned by a killed run: reparented to init, nobody waits for it.
    expect(liveRunAbove(400, table)).toBeUndefined()
  })

  it('this process, a dead pid and a live process that is not ebpfcni hold nothing', () => {
    expect(liveRun({pid: process.pid})).toBeUndefined()
    expect(liveRun({pid: 2 ** 22 + 1})).toBeUndefined()
    // The test runner's parent: alive, not ebpfcni's CLI.
    expect(liveRun({pid: process.ppid})).toBeUndefined()
  })
})
