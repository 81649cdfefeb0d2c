// What an entry of the documented-commands test says about one documented line: the lab state it
// needs, the concrete command it stands for, and what proves it did its job. The central table is in
// test/integration/documented-commands.test.ts; a lab's own lines live in its folder, in
// labs/NN-slug/test/documented.ts (export DOCUMENTED), which the test reads.

/** 'none' (no lab state), 'labN' (lab N solved and checked), or 'end' (after all labs). */
export type Group = 'none' | 'end' | `lab${number}`

export interface Entry {
  group: Group
  /** The concrete command(s) it stands for, when not the line itself; `ebpfcni` left off. */
  run?: string | string[]
  /** Exit code expected (of the last command when several). */
  code: number
  /** What proves it did its job, or says why it cannot here (stdout + stderr). */
  out: RegExp
  /** Runs until stopped: SIGINT once `out` showed (within this many ms); exit 130. */
  bound?: number
  /** Its stdout is piped to this program (the documented pipeline). */
  pipe?: string[]
  /** A synopsis (README's table): each of these commands' --help must exist and name the synopsis' flags. */
  synopsis?: string[]
  /** Run while it runs (another terminal). */
  alongside?: string
  /** Where to run it (default: the scratch directory). */
  cwd?: 'workspace'
  /** Its stdout goes to this file (in the scratch dir), which must match `out`. */
  redirect?: string
  /** Values later commands use ({name} in `run`), taken from this one's output. */
  capture?: Record<string, RegExp>
}
