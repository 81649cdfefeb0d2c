import {describe, it, expect, beforeAll, afterAll} from 'vitest'
import {execa} from 'execa'
import {existsSync, readFileSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'
import {tempStateDir, repoRoot, requireBuilt, requireRoot, uniq, cliRunner} from '../helpers/env.js'
import {deleteLinkQuietly} from '../helpers/host.js'

// `bpf trace` when no line arrived (walked: it printed nothing that helped). It says "no trace
// line in N s" and what the host shows: the lab's programs, whether each calls bpf_printk, where
// each is attached, and whether it ran only when the kernel counts runs. The filter is one no
// line carries, so the verdict does not depend on other programs printing on a shared kernel.

describe('bpf trace: what it established when no line arrived', () => {
  const t = tempStateDir()
  const id = uniq()
  const root = '/sys/fs/bpf/ebpfcni'
  const veth = `tr${id}`
  const env = {EBPFCNI_STATE_DIR: t.dir, CI: 'true'}
  const cli = cliRunner(env)
  const none = `ebpfcni-no-such-line-${id}`
  const silent = join(t.dir, 'silent.o')
  const printing = join(t.dir, 'printing.o')
  const trace = async () => {
    const r = await cli(['bpf', 'trace', '--for', '1', '--filter', none])
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(new RegExp(`^no trace line with "${none}" in 1 s.*\nwhat the host shows:$`, 'm'))
    return `${r.stderr}\n` // execa strips the last newline: every line of the report ends in one here
  }
  const pinnedId = async () =>
    (
      JSON.parse(
        (await execa('bpftool', ['-j', 'prog', 'show', 'pinned', join(root, 'xdp_prog')], {timeout: 10_000})).stdout,
      ) as {id: number}
    ).id

  beforeAll(async () => {
    requireRoot()
    requireBuilt()
    expect(existsSync(root), `${root} exists: a lab is in progress (ebpfcni reset --all removes it)`).toBe(false)
    const lab2 = join(repoRoot, 'labs/02-ebpf-basics/solution')
    expect((await cli(['bpf', 'build', join(lab2, 'program/ebpfcni.bpf.c'), '-o', silent])).exitCode).toBe(0)
    expect((await cli(['bpf', 'build', join(lab2, 'ebpfcni.bpf.c'), '-o', printing])).exitCode).toBe(0)
    await execa('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`])
  })
  afterAll(async () => {
    await deleteLinkQuietly(veth)
    await execa('rm', ['-rf', root], {reject: false, timeout: 10_000})
    t.cleanup()
  })

  it('names each program, whether it calls bpf_printk and where it is attached; runs only when counted', async () => {
    // Step 2's program (no bpf_printk), attached: the trace step's edit not built or loaded yet.
    expect((await cli(['bpf', 'load', silent, '--pin-dir', root])).exitCode).toBe(0)
    const old = await pinnedId()
    const attach = await cli(['bpf', 'attach', join(root, 'xdp_prog'), '--dev', veth])
    expect(attach.exitCode, attach.stderr).toBe(0)
    let said = await trace()
    expect(said).toContain(
      `  xdp_prog (id ${old}, pinned at ${root}/xdp_prog) does not call bpf_printk; attached: XDP on ${veth}\n`,
    )
    expect(said).toMatch(/none of these programs calls bpf_printk/)

    // The printing program loaded without --replace: pinned, attached nowhere; the old one runs on.
    await execa('rm', ['-rf', root], {timeout: 10_000})
    expect((await cli(['bpf', 'load', printing, '--pin-dir', root])).exitCode).toBe(0)
    const printer = await pinnedId()
    said = await trace()
    expect(said).toContain(
      `  xdp_prog (id ${printer}, pinned at ${root}/xdp_prog) calls bpf_printk (bpf_trace_printk); attached to no interface in this network namespace\n`,
    )
    // Only this namespace's interfaces were read (a lab 5 node's are not): said, not implied.
    expect(said).toContain(
      "  interfaces in other network namespaces (lab 5's nodes, pods) were not looked at (ip -n NS link shows XDP there)\n",
    )
    expect(said).toContain(`  xdp_prog (id ${old}) does not call bpf_printk; attached: XDP on ${veth}\n`)
    expect(said).not.toMatch(/none of these programs calls bpf_printk/)

    // Attached: whether it ran is said only from the kernel's own count.
    expect((await cli(['bpf', 'attach', join(root, 'xdp_prog'), '--dev', veth])).exitCode).toBe(0)
    said = await trace()
    const stats = readFileSync('/proc/sys/kernel/bpf_stats_enabled', 'utf8').trim() !== '0'
    expect(said).toMatch(
      new RegExp(
        `  xdp_prog \\(id ${printer}, pinned at ${root}/xdp_prog\\) calls bpf_printk \\(bpf_trace_printk\\); attached: XDP on ${veth}${stats ? '; run \\d+ time\\(s\\) since kernel\\.bpf_stats_enabled was set' : ''}\n`,
      ),
    )
    if (stats) expect(said).not.toMatch(/whether they ran is not known/)
    else
      expect(said).toMatch(
        /whether they ran is not known: the kernel counts runs only with kernel\.bpf_stats_enabled = 1/,
      )
    expect(said).not.toContain(`(id ${old})`) // replaced on the veth, unpinned: gone
    expect(said).not.toMatch(/were not looked at/) // every program is attached here
  }, 180_000)

  // Without debugfs mounted there is no other path to open trace_pipe by.
  const other = '/sys/kernel/debug/tracing/trace_pipe'
  it.skipIf(!existsSync(other))(
    'names a reader that opened trace_pipe by another path (debugfs), the same file',
    async () => {
      // The fd held, never read: no line is taken from anyone on this shared kernel.
      const holder = execa('bash', ['-c', `exec sleep 60 < ${other}`], {timeout: 90_000, reject: false})
      try {
        // Until bash has opened it and exec'd sleep (a condition, not a time: bounded by the test's timeout).
        const holds = () => {
          try {
            return (
              readlinkSync(`/proc/${holder.pid}/fd/0`) === other &&
              readFileSync(`/proc/${holder.pid}/comm`, 'utf8') === 'sleep\n'
            )
          } catch {
            return false
          }
        }
        while (!holds()) await new Promise((r) => setTimeout(r, 50))
        const said = await trace()
        expect(said).toContain(
          `  another process reads trace_pipe: pid ${holder.pid} (sleep 60); each line goes to one reader only\n`,
        )
      } finally {
        holder.kill()
        await holder
      }
    },
    60_000,
  )
})
