import {killActiveChildren} from './exec.js'

// Ctrl-C, SIGTERM and SIGHUP for every command: kill the children in flight (a hung plugin and its
// `sleep` too), let each run remove what it made, then exit 130. SIGTERM is what `timeout`, systemd
// and a parent shell send; SIGHUP what a closing terminal or SSH session sends: both end a run as
// Ctrl-C does. A second signal exits at once; whatever was not removed is still in the ledger, so
// `reset` finishes the job.

type Cleanup = () => Promise<void>

const cleanups = new Set<Cleanup>()
/** Sweeps that run once every other cleanup has settled (a reset that finds leftovers by name). */
const lastCleanups = new Set<Cleanup>()
const waiters = new Set<() => void>()
let stopping = false
let installed = false
/** How long cleanups may take before the process exits anyway (reset can finish the rest). */
const CLEANUP_LIMIT_MS = 60_000

export const INTERRUPTED_EXIT_CODE = 130

/** True once a signal arrived: long loops stop making new things. */
export const interrupted = (): boolean => stopping

/**
 * Run `fn` when the process is interrupted; returns the function that unregisters it. With `last`,
 * `fn` runs after every other cleanup has settled: a sweep (reset) then sees what they left, rather
 * than racing them (planning before their pods are gone, removing the plugin their DEL still calls).
 */
export function onInterrupt(fn: Cleanup, opts: {last?: boolean} = {}): () => void {
  const set = opts.last ? lastCleanups : cleanups
  set.add(fn)
  return () => set.delete(fn)
}

/** The signals that end a run as Ctrl-C does. */
export const INTERRUPT_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** Resolves at the first SIGINT, SIGTERM or SIGHUP (long-running commands wait on it). */
export function whenInterrupted(): Promise<void> {
  if (stopping) return Promise.resolve()
  return new Promise((resolve) => waiters.add(resolve))
}

/** Install the handlers once per process. `say` prints one line to the user. */
export function installInterruptHandlers(say: (line: string) => void, leftovers = ''): void {
  if (installed) return
  installed = true
  // bin/run.js covers the moments before this (exit 130): from here on this handler is the one.
  const early = (globalThis as {ebpfcniEarlySignalHandler?: () => void}).ebpfcniEarlySignalHandler
  if (early) for (const signal of INTERRUPT_SIGNALS) process.removeListener(signal, early)
  const handle = (signal: NodeJS.Signals): void => {
    // After a hangup the terminal is gone: a line written to it fails (EIO), and an unhandled
    // stream error would end the process half-way through its cleanup.
    if (signal === 'SIGHUP') for (const s of [process.stdout, process.stderr]) s.on('error', () => undefined)
    if (stopping) {
      sayQuietly(say, `${signal} again: exiting now${leftovers ? `; ${leftovers}` : ''}`)
      process.exit(INTERRUPTED_EXIT_CODE)
    }
    stopping = true
    const killed = killActiveChildren()
    for (const w of waiters) w()
    waiters.clear()
    if (cleanups.size === 0 && lastCleanups.size === 0) process.exit(INTERRUPTED_EXIT_CODE)
    sayQuietly(say, `${signal}: removing what this run made (press Ctrl-C again to quit at once)`)
    const limit = new Promise((resolve) => setTimeout(resolve, CLEANUP_LIMIT_MS).unref())
    const all = (set: Set<Cleanup>) => Promise.allSettled([...set].map((f) => f()))
    // Removal starts once the killed children are gone: what one was making in that moment exists by then.
    void killed
      .then(() => Promise.race([all(cleanups).then(() => all(lastCleanups)), limit]))
      .then(() => process.exit(INTERRUPTED_EXIT_CODE))
  }
  for (const signal of INTERRUPT_SIGNALS) process.on(signal, handle)
}

/** A line to the user that cannot end the process: after a hangup there is no terminal to write to. */
function sayQuietly(say: (line: string) => void, line: string): void {
  try {
    say(line)
  } catch {
    // the terminal is gone
  }
}

/**
 * For a run that stopped because of a signal: wait for the handler to exit the process, so
 * nothing (a report, progress) is written for a run the person abandoned.
 */
export function untilExit(): Promise<never> {
  return new Promise<never>(() => undefined)
}
