import type {Entry} from '#test/helpers/documented.js'

// Lab 6's documented command lines (its README and step text), for the documented-commands test:
// group lab6 runs with lab 6 solved and checked.
export const DOCUMENTED: Record<string, Entry> = {
  'ebpfcni check 6': {group: 'lab6', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 6 --step socket-lb': {group: 'lab6', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 6 --step backends': {group: 'lab6', code: 0, out: /all \d+ checks pass/},
  'ebpfcni check 6 --step maglev': {group: 'lab6', code: 0, out: /all \d+ checks pass/},
  'ebpfcni hint 6 --step maglev': {group: 'none', code: 0, out: /hint 1\/\d+ \(Step 4 — Maglev/},
  'ebpfcni check 6 --step peer-and-udp': {group: 'lab6', code: 0, out: /all \d+ checks pass/},
  'ebpfcni hint 6': {group: 'none', code: 0, out: /hint 1\/\d+ \(Step 1 — socket-LB/},
  // Streaming, on lab 4's ring (the lab4 group has it pinned): they run until stopped.
  'ebpfcni observe --follow --checks': {
    group: 'lab4',
    code: 130,
    bound: 10_000,
    out: /reading flow_events; Ctrl-C to stop/,
  },
  'ebpfcni observe --follow --verdict translated': {
    group: 'lab4',
    code: 130,
    bound: 10_000,
    out: /reading flow_events; Ctrl-C to stop/,
  },
}
