#!/usr/bin/env node
// Entry point: oclif reads oclif.manifest.json, so --help loads no command module.
// A signal before the command's own handler is installed (on a busy machine oclif takes a while to
// load) still ends the run as an interrupted one: exit 130, nothing made yet to remove.
const early = () => process.exit(130)
// SIGTERM (timeout, systemd, a parent) and SIGHUP (a closing terminal) end a run as Ctrl-C does.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, early)
globalThis.ebpfcniEarlySignalHandler = early

// Node >= 22.1 keeps compiled code between runs: every check, hint and status starts the CLI anew.
const {enableCompileCache} = await import('node:module')
enableCompileCache?.()

const {execute} = await import('#oclif')
await execute({dir: import.meta.url})
