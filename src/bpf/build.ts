import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync} from 'node:fs'
import {dirname, basename, join} from 'node:path'
import {run} from '../host/exec.js'
import {bpfIncludeArgs} from './clang.js'
import {packageRoot, stateDir} from '../host/paths.js'

export interface Diagnostic {
  file: string
  line: number
  column: number
  severity: 'error' | 'warning' | 'note'
  message: string
  /** The source line and the caret line clang printed under it. */
  snippet: string[]
}

export interface BuildResult {
  ok: boolean
  object: string
  diagnostics: Diagnostic[]
  errors: number
  warnings: number
  /** Set when clang could not run at all, or failed without a diagnostic. */
  problem?: string
  /** The clang command line, as one would type it. */
  command?: string
}

const DIAG = /^(.+?):(\d+):(\d+): (error|warning|note): (.*)$/

export function parseClangDiagnostics(stderr: string): Diagnostic[] {
  const out: Diagnostic[] = []
  for (const line of stderr.split('\n')) {
    const m = DIAG.exec(line)
    if (m)
      out.push({
        file: m[1],
        line: Number(m[2]),
        column: Number(m[3]),
        severity: m[4] as Diagnostic['severity'],
        message: m[5],
        snippet: [],
      })
    else if (
      out.length &&
      out.at(-1)!.snippet.length < 2 &&
      line.trim() &&
      !/^\d+ (errors?|warnings?) generated\.$/.test(line)
    )
      out.at(-1)!.snippet.push(line)
  }
  return out
}

/**
 * The C source an object file was built from by default (X.c next to X.o, as `bpf build` names it),
 * when that source was saved after the object: the object predates the last edit. Undefined when the
 * object is current, missing, or has no such source beside it.
 */
export function sourceNewerThanObject(object: string): string | undefined {
  const source = object.replace(/\.o$/, '.c')
  if (source === object || !existsSync(source) || !existsSync(object)) return undefined
  return statSync(source).mtimeMs > statSync(object).mtimeMs ? source : undefined
}

/** clang -O2 -g -target bpf with the include paths the labs need; BTF comes with -g. extraArgs go before -c. */
export async function buildBpf(
  source: string,
  object = join(dirname(source), `${basename(source, '.c')}.o`),
  extraArgs: string[] = [],
): Promise<BuildResult> {
  if (!existsSync(source))
    return {ok: false, object, diagnostics: [], errors: 1, warnings: 0, problem: `${source} does not exist`}
  mkdirSync(dirname(object), {recursive: true})
  const args = [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-Wall',
    ...bpfIncludeArgs(),
    `-I${join(packageRoot(), 'bpf')}`,
    ...extraArgs,
    '-c',
    source,
    '-o',
    object,
  ]
  const r = await run('clang', args, {timeoutMs: 60_000, maxOutputBytes: 256 * 1024})
  if (r.startError)
    return {
      ok: false,
      object,
      diagnostics: [],
      errors: 1,
      warnings: 0,
      problem: 'clang is not installed (apt-get install -y clang llvm libbpf-dev, or bash scripts/setup.sh)',
    }
  const diagnostics = parseClangDiagnostics(r.stderr)
  const errors = diagnostics.filter((d) => d.severity === 'error').length
  const ok = r.exitCode === 0 && !r.timedOut
  return {
    ok,
    object,
    command: ['clang', ...args].join(' '),
    diagnostics,
    errors: ok ? 0 : Math.max(errors, 1),
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    problem:
      ok || errors
        ? undefined
        : r.timedOut
          ? 'clang took longer than 60 s'
          : r.stderr.trim().split('\n').slice(-3).join(' | '),
  }
}

/**
 * The same source built with every `XDP_PASS` telling which line returned it (bpf/tool/verdict-probe.h):
 * clang can no longer drop a header read whose value only chose between two `return XDP_PASS;`, so the
 * verifier sees every read the source makes. The line of the last return is in the global
 * `ebpfcni_verdict_line` (the object's .bss).
 */
export function buildVerdictProbe(source: string, object: string): Promise<BuildResult> {
  return buildBpf(source, object, ['-include', join(packageRoot(), 'bpf', 'tool', 'verdict-probe.h')])
}

/**
 * One of ebpfcni's own programs (bpf/tool/NAME.bpf.c), built once into the state dir's cache.
 * `what` names it in the error ("the underlay program").
 */
export function toolObject(name: string, what: string): Promise<string> {
  return cachedObject(join(packageRoot(), 'bpf', 'tool', `${name}.bpf.c`), what)
}

/**
 * An object of ebpfcni's own (not the learner's) built once into the state dir's cache, named by a hash of its
 * source and of ebpfcni's headers it may include: an edited header or an upgrade rebuilds it, whatever the files'
 * times say (npm pack dates every file 1985). Built under another name and renamed, so a run never loads a
 * half-written object. Throws when clang refuses it: ebpfcni's fault, not the learner's.
 */
export async function cachedObject(source: string, what: string): Promise<string> {
  const hash = createHash('sha256').update(readFileSync(source))
  for (const dir of [join(packageRoot(), 'bpf'), join(packageRoot(), 'bpf', 'tool')])
    for (const h of readdirSync(dir)
      .filter((f) => f.endsWith('.h'))
      .sort())
      hash.update(h).update(readFileSync(join(dir, h)))
  const object = join(stateDir(), 'cache', `${basename(source, '.bpf.c')}-${hash.digest('hex').slice(0, 16)}.bpf.o`)
  if (existsSync(object)) return object
  mkdirSync(dirname(object), {recursive: true})
  const partial = `${object}.${process.pid}.tmp`
  const r = await buildBpf(source, partial)
  if (!r.ok) {
    rmSync(partial, {force: true})
    throw new Error(`building ebpfcni's ${what} failed: ${r.problem ?? r.diagnostics[0]?.message ?? 'clang'}`)
  }
  renameSync(partial, object)
  return object
}
