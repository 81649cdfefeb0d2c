import {mkdtempSync, writeFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {run, ok, describeRun} from '../host/exec.js'

/** Include paths for -target bpf on Debian: the multiarch dir holds asm/types.h. */
export function bpfIncludeArgs(): string[] {
  const triplet =
    {x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu'}[process.arch as string] ?? `${process.arch}-linux-gnu`
  return [`-I/usr/include/${triplet}`]
}

const PROBE = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int probe(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`

/** Compile a tiny XDP program: proves clang targets bpf and the libbpf headers are there. */
export async function clangTargetsBpf(): Promise<{ok: boolean; detail: string}> {
  const dir = mkdtempSync(join(tmpdir(), 'ebpfcni-clang-'))
  try {
    writeFileSync(join(dir, 'probe.c'), PROBE)
    const v = await run('clang', ['--version'], {timeoutMs: 5000})
    if (!ok(v)) return {ok: false, detail: describeRun(v)}
    const r = await run(
      'clang',
      ['-O2', '-g', '-target', 'bpf', ...bpfIncludeArgs(), '-c', join(dir, 'probe.c'), '-o', join(dir, 'probe.o')],
      {timeoutMs: 20_000},
    )
    const version = v.stdout.split('\n')[0]
    if (!ok(r))
      return {
        ok: false,
        detail: `${version}; compiling a tiny XDP program failed: ${r.stderr.split('\n').find((l) => l.includes('error')) ?? r.stderr.split('\n')[0]}`,
      }
    return {ok: true, detail: `${version}; -target bpf works`}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
