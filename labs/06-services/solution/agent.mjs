// agent.mjs — lab 6, step 2: the agent's part that keeps a Service's backends current while pods
// come and go (lab 4's controller pattern: pod events in, map writes out). ebpfcni's ready-made
// controller watches the Service's pods and calls these functions; every write goes to the kernel's
// map at once, while connect4 reads the maps on each connect() of every pod.
//
//   svc.count          the Service's entry in services: reading it reads the map, assigning it
//                      writes the map (connect4 picks a slot in 0..count-1)
//   slots.get(n)       the backend in slot n of backends ({ip, port}), or undefined
//   slots.set(n, b)    write slot n
//   slots.delete(n)    delete slot n
//
// Nothing to build: ebpfcni check 6 --step backends imports this file.   Stuck? ebpfcni hint 6

/** A pod the Service selects appeared: it takes the next slot. Ready-made. */
export function added(svc, slots, backend) {
  slots.set(svc.count, backend) // the slot first: connect4 never picks a slot not yet written
  svc.count = svc.count + 1
}

/** The backend pod in slot `slot` was deleted. */
export function deleted(svc, slots, slot) {
  const last = svc.count - 1
  slots.set(slot, slots.get(last)) // the last backend takes the freed slot (a no-op when it is the last)
  svc.count = last // then the old last slot is no longer picked
  slots.delete(last)
}
