import type {NextStep} from '../host/errors.js'

// The command lines behind the next steps lower layers name (host/errors.ts NextStep): the
// only place that knows which command does what, so a renamed command is changed here once.

export function nextStepText(next: NextStep, bin = 'ebpfcni'): string {
  switch (next.do) {
    case 'build-program':
      return `build it first: ${bin} bpf build FILE.c`
    case 'load-program':
      return `build and load your program first: ${bin} bpf build && ${bin} bpf load (${bin} bpf maps lists what is pinned)`
    case 'list-maps':
      return `${bin} bpf maps lists the pinned maps (${bin} bpf progs the programs)`
    case 'load-policy-program':
      return `load lab 4's program first: ${bin} check 4 (or ${bin} bpf build && ${bin} bpf load --replace)`
    case 'list-rules':
      return `${bin} policy list shows the rules`
    case 'add-pod':
      return `make one: ${bin} pod add NAME`
    case 'delete-pod':
      return `${bin} pod del ${next.pod}`
    case 'list-pods':
      return `is the pod still there? ${bin} pod list`
    case 'diagnose':
      return `${bin} doctor checks the machine; ${bin} reset removes what a killed run left`
    case 'install-config':
      return `${bin} check N installs your workspace's plugin and its config (or pass --config FILE)`
    case 'reset':
      return `${bin} reset removes anything left`
  }
}

/** The hint line for an error: its own hint, then the next step. */
export const hintLine = (failure: {hint?: string; next?: NextStep}, bin?: string): string | undefined =>
  [failure.hint, failure.next && nextStepText(failure.next, bin)].filter(Boolean).join('; ') || undefined
