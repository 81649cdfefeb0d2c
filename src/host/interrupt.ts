import {killActiveChildren} from './exec.js'

// Ctrl-C and SIGTERM for every command: kill the children in flight (a hung plugin and its
// `sleep` too), let each run remove what it made, then exit 130. A second signal exits at once;
// whatever was not removed is still in the ledger, so `reset` finishes the job.

type Cleanup = () => Promise<void>

const cleanups = new Set<Cleanup>()
const waiters = new Set<() => void>()
let stopping = false
let installed = false
/** How long cleanups may take before the process exits anyway (reset can finish the rest). */
const CLEANUP_LIMIT_MS = 60_000

export const INTERRUPTED_EXIT_CODE = 130

/** True once a signal arrived: long loops stop making new things. */
export const interrupted = (): boolean => stopping

/** Run `fn` when the process is interrupted; returns the function that unregisters it. */
export function onInterrupt(fn: Cleanup): () => void {
  cleanups.add(fn)
  return () => cleanups.delete(fn)
}

/** Resolves at the first SIGINT or SIGTERM (long-running commands wait on it). */
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
  if (early) {
    process.removeListener('SIGINT', early)
    process.removeListener('SIGTERM', early)
  }
  const handle = (signal: NodeJS.Signals): void => {
    if (stopping) {
      say(`${signal} again: exiting now${leftovers ? `; ${leftovers}` : ''}`)
      process.exit(INTERRUPTED_EXIT_CODE)
    }
    stopping = true
    const killed = killActiveChildren()
    for (const w of waiters) w()
    waiters.clear()
    if (cleanups.size === 0) process.exit(INTERRUPTED_EXIT_CODE)
    say(`${signal}: removing what this run made (press Ctrl-C again to quit at once)`)
    const limit = new Promise((resolve) => setTimeout(resolve, CLEANUP_LIMIT_MS).unref())
    // Removal starts once the killed children are gone: what one was making in that moment exists by then.
    void killed
      .then(() => Promise.race([Promise.allSettled([...cleanups].map((f) => f())), limit]))
      .then(() => process.exit(INTERRUPTED_EXIT_CODE))
  }
  process.on('SIGINT', handle)
  process.on('SIGTERM', handle)
}

/**
 * For a run that stopped because of a signal: wait for the handler to exit the process, so
 * nothing (a report, progress) is written for a run the person abandoned.
 */
export function untilExit(): Promise<never> {
  return new Promise<never>(() => undefined)
}
